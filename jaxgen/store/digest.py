"""The digest of a checkpoint: a SHA-256 of each state leaf's dtype, shape and host bytes, and of
the config, stored as the checkpoint's JSON item ``digest``::

    {'leaves': {'params/Dense_0/kernel': hex, ...}, 'config': hex, 'algorithm': ...}

It is computed in Orbax's background save thread (`Handler`, `Save`), so a step folder is
committed only with it, and checked on restore against the leaves actually read (`mismatches`):
a restore of some leaves (the parameters a sampling command needs) verifies exactly those.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import time
from typing import Any, Optional

import jax
import numpy as np
from orbax.checkpoint import checkpoint_args as ocp_args
from orbax.checkpoint.handlers import JsonCheckpointHandler

from jaxgen.store import shards

ALGORITHM = 'sha256(dtype.str + shape + bytes)'


def path_str(path) -> str:
  """``'opt_state/0/nu/Dense_0/kernel'`` for a jax key path (attribute, dict and index keys)."""
  parts = []
  for k in path:
    for attr in ('key', 'name', 'idx'):
      if hasattr(k, attr):
        parts.append(str(getattr(k, attr)))
        break
    else:
      parts.append(str(k))
  return '/'.join(parts)


def leaf_digest(x) -> Optional[str]:
  """SHA-256 (hex) of a leaf's dtype, shape and host bytes; None for an array this process does
  not hold whole (multi-process sharded leaves are left unverified)."""
  if isinstance(x, jax.Array):
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
      x = jax.random.key_data(x)
    if not x.is_fully_addressable:
      return None
  x = np.ascontiguousarray(np.asarray(x))
  h = hashlib.sha256(f'{x.dtype.str}{x.shape}'.encode())
  h.update(x.reshape(-1).view(np.uint8).data)  # hashlib releases the GIL on large buffers
  return h.hexdigest()


def tree_digest(tree) -> dict[str, Optional[str]]:
  """``{leaf path: leaf_digest}`` of a pytree (host arrays or jax Arrays)."""
  return {path_str(p): leaf_digest(x) for p, x in jax.tree_util.tree_flatten_with_path(tree)[0]}


def config_digest(config: Any) -> str:
  """SHA-256 of a JSON value in canonical form (sorted keys), so key order does not matter."""
  return shards.sha256(json.dumps(config, sort_keys=True).encode())


class Pending:
  """The digest of a host copy of the state, computed when Orbax's save thread asks for it."""

  def __init__(self, host_state, config):
    self.host_state, self.config = host_state, config
    self.seconds: Optional[float] = None

  def compute(self) -> dict:
    t = time.perf_counter()
    out = {'leaves': tree_digest(self.host_state), 'config': config_digest(self.config),
           'algorithm': ALGORITHM}
    self.host_state = None  # let the host copy go as soon as it is hashed
    self.seconds = time.perf_counter() - t
    return out


class Handler(JsonCheckpointHandler):
  """A JSON item whose content (the digest) is computed in the background save thread."""

  async def _save_fn(self, x, directory):
    if isinstance(x, Pending):
      if not jax.process_index() == 0:
        return
      x = await asyncio.to_thread(x.compute)
    await super()._save_fn(x, directory)


@ocp_args.register_with_handler(Handler, for_save=True)
@dataclasses.dataclass
class Save(ocp_args.CheckpointArgs):
  item: Any


@ocp_args.register_with_handler(Handler, for_restore=True)
@dataclasses.dataclass
class Restore(ocp_args.CheckpointArgs):
  item: Any = None


def mismatches(restored, stored: dict, whole: bool = True) -> list[str]:
  """The leaf paths of `restored` whose digest differs from the one `stored` in the checkpoint's
  digest item, or that it lacks; with `whole` (`restored` is the whole state) also the stored
  leaves `restored` lacks. Leaves this process does not hold whole (digest None on either side)
  are not compared."""
  got, want = tree_digest(restored), stored.get('leaves', {})
  keys = set(got) | set(want) if whole else set(got)
  return sorted(k for k in keys if (k in got) != (k in want)
                or got[k] is not None and want[k] is not None and got[k] != want[k])
