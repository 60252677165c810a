"""The thin Orbax layer: with `digest`, the only module that imports orbax.

A checkpoint ``checkpoints/<step>/`` holds three items: ``state`` (the whole `TrainState`: step,
params, EMA, optimizer state, RNG), ``config`` (the run's config as JSON) and ``digest`` (JSON:
a SHA-256 of each state leaf's host bytes, dtype and shape, and of the config; `digest`). Saves
are asynchronous and atomic (Orbax writes to a temporary folder and renames it on commit); the
digest is computed in Orbax's background save thread, so the folder is committed only with it.
Restoring takes the *target* shardings, one per leaf (`abstract`): Orbax stores each array
whole (in chunks, whatever mesh wrote it) and reads for every device just its slice of the
target layout, so a checkpoint written on one device restores onto eight and back, and one
written split over an FSDP mesh restores onto another mesh shape or replicated. A restore
recomputes the digest of what it read: a flipped byte is never restored silently. A restore
with ``partial=True`` reads only the leaves of its target (the parameters a sampling command
needs, not the optimizer state) and verifies those.

Damage is never repaired by deleting: `restore()` without a step walks down from the newest
step folder, skips each one that is empty, incomplete, unreadable or fails its digest, prints
one line naming the skipped steps and the step restored, and raises `CheckpointError` (naming
every step tried) when none is good. Retention (the newest `keep`, and the step the caller names
as ``best``) counts only checkpoints that look good, and deletes an old one only after a newer
save has committed, so broken folders never push good ones out. A failed save (a full disk) is one `CheckpointError` naming the step,
the folder and the cause, raised at the next `save`, `wait`, `check` or `close`; its temporary
folder is removed and the earlier checkpoints are untouched.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
from typing import Any, Optional

import jax
import orbax.checkpoint as ocp
from orbax.checkpoint.handlers import JsonCheckpointHandler

from jaxgen.store import digest as digest_lib
from jaxgen.store import paths

STATE, CONFIG, DIGEST = 'state', 'config', 'digest'
# Files a committed checkpoint cannot be read without (Orbax 0.12 layout, OCDBT storage).
_REQUIRED = (f'{STATE}/_METADATA', f'{STATE}/manifest.ocdbt', f'{CONFIG}/metadata',
             f'{DIGEST}/metadata')
# On an object store (no rename) Orbax writes into <step>/ directly and commits with this file.
_COMMITTED = 'commit_success.txt'


class CheckpointError(RuntimeError):
  """A checkpoint could not be read or written; the message says which and what to do."""


class SaveFailed(CheckpointError):
  """A save of a running run failed (a full disk, a damaged folder in the way): the run failed,
  unlike the other CheckpointErrors, which refuse bad input before anything runs."""


# Orbax logs each failure of a background save as a traceback (from several threads); the
# Checkpointer raises the same failure as one CheckpointError line, so those are dropped.
class _DropOrbaxTracebacks(logging.Filter):
  def filter(self, record):
    return not (record.exc_info and f'{os.sep}orbax{os.sep}' in (record.pathname or ''))


_FILTER = _DropOrbaxTracebacks()
for _name in ('absl', ''):
  logging.getLogger(_name).addFilter(_FILTER)


def _cause(e: BaseException) -> str:
  """'No space left on device' for a full disk anywhere in the exception chain, else the first
  line of the innermost message."""
  seen, chain = set(), []
  while e is not None and id(e) not in seen:
    seen.add(id(e))
    chain.append(e)
    e = e.__cause__ or e.__context__
  for x in chain:
    if getattr(x, 'errno', None) == errno.ENOSPC or 'No space left on device' in str(x) \
        or "os_error_code='28'" in str(x):
      return 'No space left on device'
  x = chain[-1]
  first = (str(x).strip().splitlines() or [''])[0]
  return f'{type(x).__name__}: {first[:200]}'


class _Damaged(Exception):
  """A step folder that cannot be trusted; str() is the reason."""


# --- the checkpointer --------------------------------------------------------------------------

class Checkpointer:
  """Saves and restores train states under ``<workdir>/checkpoints`` (or ``<workdir>/<folder>``;
  ``keep=0`` retains every step).

  `latest_step()` is the newest step folder that looks complete (cheap: files only); a damaged
  array file or a digest mismatch is found by `restore()`, which then falls back. After a
  restore, ``restored_step`` and ``restored_config`` (the config dict stored in that checkpoint)
  are set, and `latest_step()` no longer names the steps found damaged. Creates the directory
  only when it first saves.
  """

  def __init__(self, workdir: str, keep: int = 3, async_save: bool = True,
               folder: str = 'checkpoints'):
    self.directory = paths.abspath(paths.join(workdir, folder))
    self.keep = keep
    self._async = async_save
    self._manager_obj = None
    self._damaged: dict[int, str] = {}   # step -> reason, found in this process
    self._pending: Optional[tuple[int, digest_lib.Pending]] = None  # async save not yet confirmed
    self._best: Optional[int] = None    # the step retention keeps whatever its age (`save`)
    self.restored_step: Optional[int] = None
    self.restored_config: Optional[dict] = None
    self.last_digest_seconds: Optional[float] = None  # of the newest confirmed save

  @property
  def _manager(self) -> ocp.CheckpointManager:
    if self._manager_obj is None:
      # max_to_keep=None: Orbax deletes nothing; `_retain` keeps the newest `keep` good ones.
      options = ocp.CheckpointManagerOptions(
          max_to_keep=None, create=True, enable_async_checkpointing=self._async)
      self._manager_obj = ocp.CheckpointManager(
          self.directory, options=options,
          item_handlers={STATE: ocp.StandardCheckpointHandler(), CONFIG: JsonCheckpointHandler(),
                         DIGEST: digest_lib.Handler()})
    return self._manager_obj

  # --- which steps exist and which look good ---------------------------------------------------

  def all_steps(self) -> list[int]:
    """Every committed step folder (``checkpoints/<int>``), damaged or not, ascending."""
    if not paths.isdir(self.directory):
      return []
    return sorted(int(n) for n in paths.listdir(self.directory)
                  if n.isdigit() and paths.isdir(paths.join(self.directory, n)))

  def problem(self, step: int) -> Optional[str]:
    """Why `step` cannot be restored, found from its files alone (or by an earlier restore in
    this process); None if it looks complete."""
    if step in self._damaged:
      return self._damaged[step]
    path = paths.join(self.directory, str(step))
    if not paths.isdir(path):
      return 'no such folder'
    names = paths.listdir(path)
    if not names:
      return 'empty folder'
    if not paths.is_local(path) and _COMMITTED not in names:
      return f'not committed (no {_COMMITTED}: a save that did not finish)'
    isfile = lambda *parts: paths.isfile(paths.join(path, *parts))
    missing = [f for f in _REQUIRED if not isfile(*f.split('/'))]
    state = paths.join(path, STATE)
    if paths.isdir(state):
      missing += [f'{STATE}/{d}/manifest.ocdbt' for d in paths.listdir(state)
                  if d.startswith('ocdbt.process_') and not isfile(STATE, d, 'manifest.ocdbt')]
    if missing:
      return f'{", ".join(missing)} missing'
    return None

  def good_steps(self) -> list[int]:
    """Steps that look complete and were not found damaged, ascending."""
    return [s for s in self.all_steps() if self.problem(s) is None]

  def latest_step(self) -> Optional[int]:
    """The newest step that looks complete; None if there is no step folder at all. Raises
    CheckpointError when step folders exist but none looks complete (rather than let a caller
    start afresh over them)."""
    steps = self.all_steps()
    if not steps:
      return None
    good = self.good_steps()
    if not good:
      raise self._none_good([(s, self.problem(s)) for s in reversed(steps)])
    return good[-1]

  def _none_good(self, tried) -> CheckpointError:
    return CheckpointError(
        f'no good checkpoint in {self.directory}: '
        + '; '.join(f'step {s}: {r}' for s, r in tried)
        + '. Nothing was changed; move those folders aside to start afresh, or restore them.')

  # --- saving ----------------------------------------------------------------------------------

  def save(self, step: int, state: Any, config_json: str, force: bool = False,
           best: Optional[int] = None) -> bool:
    """Starts saving `state` as `step` (asynchronously when async_save). Returns False (with one
    printed line) if a damaged folder ``checkpoints/<step>`` is in the way: it is never
    overwritten; with `force` (a save that must happen) that is a CheckpointError instead.
    A previous save that failed raises CheckpointError here. `best`: a step whose checkpoint
    retention keeps whatever its age from now on (the run's best validation step), or None."""
    self._confirm_pending()   # retains with the previous `best`: the new one is not saved yet
    self._best = best
    path = paths.join(self.directory, str(step))
    if paths.exists(path):
      reason = self.problem(step)
      if reason is None:  # this very step is already saved
        return False
      msg = (f'checkpoint step {step} not saved: {path} already exists and is damaged ({reason}); '
             'it is left in place; move it aside to let the run save this step.')
      if force:
        raise SaveFailed(msg)
      if jax.process_index() == 0:
        print(msg, flush=True)
      return False
    config = json.loads(config_json)
    # The host copy the digest reads; a leaf split over processes is left to Orbax (no digest).
    host = jax.tree.map(lambda x: x if isinstance(x, jax.Array) and not x.is_fully_addressable
                        else jax.device_get(x), state)
    pending = digest_lib.Pending(host, config)
    try:
      self._manager.save(step, args=ocp.args.Composite(**{
          STATE: ocp.args.StandardSave(state), CONFIG: ocp.args.JsonSave(config),
          DIGEST: digest_lib.Save(pending)}), force=True)
    except Exception as e:
      raise self._save_failed(step, e) from e
    self._pending = (step, pending)
    if not self._async:
      self._confirm_pending()
    return True

  def check(self) -> None:
    """Raises CheckpointError now if the last asynchronous save has already failed; never
    blocks (cheap enough to call every step)."""
    if self._pending is not None and not self._manager.is_saving_in_progress():
      self._confirm_pending()

  def _confirm_pending(self) -> None:
    """Waits for the pending save; on success applies retention, on failure raises."""
    if self._pending is None:
      return
    step, pending = self._pending
    self._pending = None
    try:
      self._manager.wait_until_finished()
      self._manager.check_for_errors()
      if not paths.isdir(paths.join(self.directory, str(step))):
        raise CheckpointError('the checkpoint folder was not committed')
    except Exception as e:
      raise self._save_failed(step, e) from e
    self.last_digest_seconds = pending.seconds
    self._damaged.pop(step, None)
    self._retain()

  def _save_failed(self, step: int, e: BaseException) -> SaveFailed:
    self._drain()
    self._remove_tmp(step)
    try:
      good = self.good_steps()
    except OSError:
      good = []
    kept = (f'the earlier checkpoints are intact (newest: step {good[-1]}), resume runs from it'
            if good else 'there is no earlier checkpoint')
    return SaveFailed(
        f'could not save checkpoint step {step} to {paths.join(self.directory, str(step))}: '
        f'{_cause(e)}; {kept}. Free space (or fix the cause) and run again.')

  def _drain(self) -> None:
    """Waits for every write of a failed async save: Orbax raises at the first failed item
    while the others may still be writing into the temporary folder."""
    async_manager = getattr(getattr(self._manager_obj, '_checkpointer', None),
                            '_async_manager', None)
    for f in list(getattr(async_manager, '_commit_futures', None) or []):
      try:
        f.result(timeout=600)
      except Exception:  # the failure itself is reported by the caller
        pass

  def _remove_tmp(self, step: int) -> None:
    """Removes the uncommitted folder of a failed save (a partial write, never a checkpoint):
    locally ``<step>.orbax-checkpoint-tmp*``; on an object store, where Orbax writes into
    ``<step>/`` itself and commits with ``commit_success.txt``, that folder if it lacks it."""
    if jax.process_index() != 0 or not paths.isdir(self.directory):
      return
    if not paths.is_local(self.directory):
      folder = paths.join(self.directory, str(step))
      if paths.isdir(folder) and _COMMITTED not in paths.listdir(folder):
        paths.rmtree(folder)
      return
    pattern = re.compile(rf'^{step}\.orbax-checkpoint-tmp')
    for name in paths.listdir(self.directory):
      if pattern.match(name):
        paths.rmtree(paths.join(self.directory, name))

  def _retain(self) -> None:
    """Deletes good checkpoints older than the newest `keep` good ones, except the `best` step
    named by the last `save`. Damaged folders are neither counted nor deleted."""
    if not self.keep or self.keep <= 0:
      return
    good = self.good_steps()
    old = [s for s in good[:-self.keep] if s != self._best]
    if old:
      self._manager.reload()
      for s in old:
        if s in self._manager.all_steps():
          self._manager.delete(s)

  # --- restoring -------------------------------------------------------------------------------

  def stored_config(self, step: Optional[int] = None) -> dict:
    """The config dict stored in checkpoint `step` (default: `latest_step()`), read alone."""
    step = self.latest_step() if step is None else step
    if step is None:
      raise CheckpointError(f'no checkpoint in {self.directory}')
    path = paths.join(self.directory, str(step), CONFIG, 'metadata')
    try:
      return json.loads(paths.read_text(path))
    except (OSError, ValueError) as e:
      raise CheckpointError(f'the config stored in checkpoint step {step} ({path}) could not be '
                            f'read ({_cause(e)})') from e

  def restore(self, abstract_state: Any, step: Optional[int] = None, *,
              verify: bool = True, partial: bool = False) -> Any:
    """The state at `step`, verified against its digest, with the shardings of
    `abstract_state`; with `partial`, only the leaves of `abstract_state` (a dict of some of the
    state's fields, e.g. ``{'step', 'ema_params', 'rng'}``) are read and verified. With step=None: the newest good step, skipping (with one printed line)
    every newer one that is damaged; CheckpointError if none is good. An explicit `step` that
    is damaged is a CheckpointError (no fallback). verify=False skips the digest check (to
    inspect a damaged checkpoint; never for resuming)."""
    steps = self.all_steps() if step is None else [step]
    if not steps or (step is not None and not paths.isdir(
        paths.join(self.directory, str(step)))):
      raise CheckpointError(
          f'no checkpoint {"" if step is None else f"at step {step} "}in {self.directory}'
          + (f' (steps present: {self.all_steps()})' if step is not None else ''))
    skipped = []
    for s in reversed(steps):
      reason = self.problem(s) if verify else None
      if reason is None:
        try:
          state = self._restore_verified(s, abstract_state, verify, partial)
        except _Damaged as e:
          reason = str(e)
        else:
          break
      self._damaged[s] = reason
      skipped.append((s, reason))
    else:
      if step is not None:
        raise CheckpointError(
            f'checkpoint step {step} in {self.directory} is damaged ({skipped[0][1]}); nothing '
            f'was changed. Restore another step (present: {self.all_steps()}).')
      raise self._none_good(skipped)
    if skipped and jax.process_index() == 0:
      print('Checkpoint: skipped ' + '; '.join(f'step {t} ({r})' for t, r in skipped)
            + f'; restored step {s} from {self.directory}. The skipped folders are left in place'
            ' (the run will not save over them).', flush=True)
    self.restored_step = s
    return state

  def _restore_verified(self, step: int, abstract_state: Any, verify: bool = True,
                        partial: bool = False) -> Any:
    """Restores `step` (only the leaves of `abstract_state` if `partial`) and checks their digest;
    _Damaged if it cannot be trusted, CheckpointError if it holds another model."""
    self._check_same_model(step, abstract_state, partial)
    try:
      if partial:
        state, config, stored = self._read_leaves(step, abstract_state)
      else:
        out = self._manager.restore(step, args=ocp.args.Composite(**{
            STATE: ocp.args.StandardRestore(abstract_state), CONFIG: ocp.args.JsonRestore(),
            DIGEST: digest_lib.Restore()}))
        state, config, stored = out[STATE], out[CONFIG], out[DIGEST]
    except Exception as e:  # an unreadable or truncated file: tensorstore / json errors
      raise _Damaged(f'unreadable: {_cause(e)}') from e
    if verify:
      if not isinstance(stored, dict) or 'leaves' not in stored:
        raise _Damaged('no digest (digest/metadata holds no leaf digests)')
      bad = digest_lib.mismatches(state, stored, whole=not partial)
      if bad:
        raise _Damaged(f'digest mismatch in {len(bad)} of {len(stored["leaves"])} arrays: '
                       f'{", ".join(bad[:3])}{", ..." if len(bad) > 3 else ""}')
      if stored.get('config') != digest_lib.config_digest(config):
        raise _Damaged('digest mismatch in the stored config')
    self.restored_config = config
    return state

  def _read_leaves(self, step: int, abstract_leaves: Any) -> tuple[Any, dict, Any]:
    """``(leaves, config, digest)`` of `step`: the arrays of the state item named by
    `abstract_leaves` (a dict of some of its top-level fields), and nothing else of it."""
    folder = paths.join(self.directory, str(step))
    args = ocp.args.PyTreeRestore(
        abstract_leaves, restore_args=ocp.checkpoint_utils.construct_restore_args(abstract_leaves),
        partial_restore=True)
    with ocp.Checkpointer(ocp.PyTreeCheckpointHandler()) as reader:
      leaves = reader.restore(paths.join(folder, STATE), args=args)
    read = lambda item: json.loads(paths.read_text(paths.join(folder, item, 'metadata')))
    return leaves, read(CONFIG), read(DIGEST)

  def _check_same_model(self, step: int, abstract_state: Any, partial: bool = False) -> None:
    """CheckpointError naming the leaves if `step` stores other shapes than `abstract_state` (of
    its leaves only, if `partial`)."""
    try:
      meta = self._manager.item_metadata(step)[STATE]
      stored = {digest_lib.path_str(p): tuple(m.shape) for p, m in
                jax.tree_util.tree_flatten_with_path(meta)[0] if hasattr(m, 'shape')}
    except Exception as e:  # unreadable metadata is damage, found again by the restore
      raise _Damaged(f'metadata unreadable: {_cause(e)}') from e
    here = {digest_lib.path_str(p): tuple(x.shape)
            for p, x in jax.tree_util.tree_flatten_with_path(abstract_state)[0]}
    keys = set(here) if partial else set(stored) | set(here)
    diff = [f'{k}: stored {stored.get(k, "absent")} vs {here.get(k, "absent")} here'
            for k in sorted(keys) if stored.get(k) != here.get(k)]
    if diff:
      raise CheckpointError(
          f'checkpoint step {step} in {self.directory} holds a different model ({len(diff)} '
          f'arrays differ: {"; ".join(diff[:3])}). Nothing was changed; use the config it was '
          'trained with, or a new --workdir.')

  # --- life cycle ------------------------------------------------------------------------------

  def wait(self) -> None:
    """Waits for the pending save; CheckpointError if it failed."""
    self._confirm_pending()

  def close(self) -> None:
    """Waits for the pending save and releases Orbax's threads; CheckpointError if it failed."""
    try:
      self._confirm_pending()
    finally:
      if self._manager_obj is not None:
        self._manager_obj.close()


def abstract(tree: Any, sharding) -> Any:
  """ShapeDtypeStructs of `tree` (a restore target) with `sharding` on every leaf, or, given a
  pytree of shardings of `tree`'s structure, each leaf's own."""
  if isinstance(sharding, jax.sharding.Sharding):
    sharding = jax.tree.map(lambda _: sharding, tree)
  return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), tree,
                      sharding)
