"""Where each array of the training state lives on the ('data', 'fsdp') mesh: the FSDP rule.

With ``train.fsdp = k`` the mesh is ``(devices / k) x k`` (`parallel.make_mesh`). An array of
the training state (parameters, EMA, post-hoc EMA profiles, optimizer state) is split over the
``'fsdp'`` axis along one of its axes, chosen by `spec`:

- the largest axis whose length k divides (the first of equal ones), so each of the k devices
  holds ``1/k`` of it, the same slice for every ``'data'`` row of the mesh;
- replicated when k = 1 (plain data parallelism), when the array has fewer than `MIN_SHARDED`
  elements (biases, norm scales, the step count, the key: the collective would cost more than
  the memory it saves), or when k divides none of its axes.

The rule looks at the shape alone, so Adam's moments, the EMA and the post-hoc EMA profiles of a
parameter are split exactly as the parameter is, and a restore target built from the abstract
state (`tree_shardings`) places a checkpoint on any mesh, whatever mesh wrote it. XLA (GSPMD)
derives the communication from these shardings: an all-gather of each split parameter where
the forward and backward passes use it, a reduce-scatter of its gradient, and the optimizer
update on each device's slice alone.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

AXIS = 'fsdp'
MIN_SHARDED = 1024   # elements (4 KiB of float32); smaller arrays are replicated


def spec(shape: Sequence[int], k: int, min_sharded: int = MIN_SHARDED) -> P:
  """The PartitionSpec of an array of `shape` over an ``'fsdp'`` axis of size `k` (the rule of
  the module's docstring): ``P()`` (replicated) or `AXIS` at the chosen axis."""
  if k <= 1 or math.prod(shape) < min_sharded:
    return P()
  divisible = [i for i, n in enumerate(shape) if n % k == 0]
  if not divisible:
    return P()
  axis = max(divisible, key=lambda i: (shape[i], -i))   # the largest; the first of equal ones
  return P(*([None] * axis), AXIS)


def tree_shardings(tree: Any, mesh: Mesh) -> Any:
  """A NamedSharding on `mesh` for every leaf of `tree` (arrays or ShapeDtypeStructs, e.g. the
  abstract training state), by `spec` with k the size of the mesh's 'fsdp' axis (1 on a mesh
  without one)."""
  k = dict(mesh.shape).get(AXIS, 1)
  return jax.tree.map(lambda x: NamedSharding(mesh, spec(x.shape, k)), tree)
