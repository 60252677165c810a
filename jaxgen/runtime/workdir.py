"""The rules of a run's folder: its config.json, what a resume or an opened run may change, the
data fingerprint, the train.init_from source, the newest checkpoint.

    workdir/config.json   the validated config (written atomically by process 0)
    workdir/data.json     the training data's fingerprint (`Source.fingerprint`), checked on resume
    workdir/init_from.json with train.init_from: the source, step and params the run started from

Every check here reads only: it runs before the caller writes anything.
"""

from __future__ import annotations

import json
from typing import Optional

from jaxgen.runtime import config as cfg_lib
from jaxgen.store import checkpoint as ckpt_lib
from jaxgen.store import lock as lock_lib
from jaxgen.store import paths

# Where a workdir is found unusable (a file, under a file, read-only, a full disk): `lock.hold`
# meets it first; the messages are the lock module's.
check_folder = lock_lib.check_folder
os_error_message = lock_lib.os_error_message

CONFIG = 'config.json'
DATA_FINGERPRINT = 'data.json'
INIT_FROM = 'init_from.json'

# Keys that do not alter the trained model: how it is sampled and evaluated, on how many
# devices and with which attention kernel (the result does not depend on them). An opened run
# (launch.sample/evaluate) may override exactly these (a run trained with attn_impl='cudnn' is
# sampled on a CPU with --config.model.unet.attn_impl=xla).
USE_KEYS = ('sampling.', 'likelihood.', 'eval.', 'train.num_devices', 'data.pipeline',
            'data.threads', 'model.unet.attn_impl')
# A resume may change these too: the run's length, its bookkeeping, its (ignored) init source and
# its mesh shape (train.fsdp: a checkpoint restores onto any mesh).
RESUME_KEYS = USE_KEYS + ('train.steps', 'train.log_every', 'train.checkpoint_every',
                          'train.eval_every', 'train.sample_every', 'train.progress',
                          'train.keep_checkpoints', 'train.init_from', 'train.skip_nonfinite',
                          'train.fsdp')


def _names(keys) -> str:
  return ', '.join(k + '*' if k.endswith('.') else k for k in keys)


def write_atomic(path: str, text: str) -> None:
  """Writes `text` to `path` through a temporary file and a rename (never seen half-written); on
  a failure (a full disk) the temporary file is removed and `path` is as it was. On an object
  store: one upload (`paths.write_atomic`)."""
  paths.write_atomic(path, text)


def read_config(workdir: str, what: str = '--workdir'):
  """The validated config.json of the run in `workdir`; `what` names the flag or key in the
  error for a folder without one (or with one that is not a config)."""
  path = paths.join(workdir, CONFIG)
  if paths.isfile(workdir):
    raise cfg_lib.ConfigError(f'{what}={workdir} is a file, not a run folder')
  if not paths.exists(path):
    raise FileNotFoundError(f'{what}={workdir} holds no run (no {CONFIG}); train one with '
                            'python -m launch.train --config FILE --workdir DIR')
  try:
    data = json.loads(paths.read_text(path))
  except (ValueError, UnicodeDecodeError) as e:
    raise cfg_lib.ConfigError(
        f'{path} is not valid JSON ({e}); restore it (each checkpoint holds a copy of the config: '
        f'{paths.join(workdir, "checkpoints", "<step>", "config")}), or choose a new '
        f'{what}') from None
  except OSError as e:
    raise cfg_lib.ConfigError(f'{path} cannot be read ({e.strerror}); fix its permissions') \
        from None
  if not isinstance(data, dict):
    raise cfg_lib.ConfigError(f'{path} holds a JSON {type(data).__name__}, not a run config; '
                              f'restore it or choose a new {what}')
  try:
    return cfg_lib.from_json(json.dumps(data))
  except cfg_lib.ConfigError as e:
    raise cfg_lib.ConfigError(f'{path}: {e}') from None


def write_config(workdir: str, config) -> None:
  write_atomic(paths.join(workdir, CONFIG), cfg_lib.to_json(config))


def _resume_changes(old, config) -> list[str]:
  """The keys in which `config` differs from the run's `old` config outside `RESUME_KEYS`. A key
  that one of them lacks (a run written before the key existed) counts with its schema default,
  the behaviour the older run had."""
  fo, fn = cfg_lib.flatten(old.to_dict()), cfg_lib.flatten(config.to_dict())
  schema = cfg_lib.flatten(cfg_lib.base(config.model.family).to_dict())
  changed = (k for k in set(fo) | set(fn) if fo.get(k, schema.get(k)) != fn.get(k, schema.get(k)))
  return sorted(k for k in changed if not k.startswith(RESUME_KEYS))


def check_resume(workdir: str, config) -> None:
  """Refuses a `config` that differs from `workdir`'s run in keys outside `RESUME_KEYS`."""
  if not paths.exists(paths.join(workdir, CONFIG)):
    return
  changed = _resume_changes(read_config(workdir), config)
  if changed:
    raise cfg_lib.ConfigError(
        f'{workdir} holds a run with a different config ({", ".join(changed)} differ). '
        f'Resume it with the same config (only {_names(RESUME_KEYS)} may change), or choose a '
        'new --workdir.')


def check_checkpoint_config(stored: Optional[dict], config, step: int, directory: str) -> None:
  """Refuses to resume from a checkpoint whose stored config differs from `config` outside
  `RESUME_KEYS` (a checkpoint copied in from another run, or a config.json edited by hand)."""
  if stored is None:
    return
  changed = _resume_changes(cfg_lib.from_json(json.dumps(stored)), config)
  if changed:
    raise cfg_lib.ConfigError(
        f'the checkpoint of step {step} in {directory} was written with a different config '
        f'({", ".join(changed)} differ) than this run\'s: resume with the config it was trained '
        'with, or choose a new --workdir.')


def check_overrides(overrides) -> None:
  """Refuses overrides of an opened run outside `USE_KEYS` (they would alter the trained model)."""
  bad = [k for k in overrides if not k.startswith(USE_KEYS)]
  if bad:
    raise cfg_lib.ConfigError(f'only {_names(USE_KEYS)} can be overridden on a trained run, not '
                              f'{", ".join(bad)}')


def _describe(fingerprint) -> str:
  if not fingerprint:
    return 'the data set itself (no fingerprint)'
  return ', '.join(f'{k}={str(v)[:24]}' for k, v in sorted(fingerprint.items()))


def check_data_fingerprint(workdir: str, data, resuming: bool) -> None:
  """Refuses to resume a run whose recorded data fingerprint (none where ``data.json`` is absent)
  differs from the source's now: replaced pairs, or a stand-in where the real set was (or the
  reverse)."""
  if not resuming:
    return
  path = paths.join(workdir, DATA_FINGERPRINT)
  old = json.loads(paths.read_text(path)) if paths.exists(path) else None
  new = data.fingerprint or None
  if old != new:
    raise cfg_lib.ConfigError(
        f'{workdir} was trained on {_describe(old)}, but config.data.name={data.spec.name} now '
        f'gives {_describe(new)}: the data changed (a pairs file replaced by launch.reflow --force, '
        'or a stand-in where the real set was). Put the original data back to resume, or train '
        'on this data in a new --workdir.')


def write_data_fingerprint(workdir: str, data, resuming: bool) -> None:
  """Records the data's fingerprint (where it has one) for a fresh run."""
  if data.fingerprint and not resuming:
    write_atomic(paths.join(workdir, DATA_FINGERPRINT), json.dumps(data.fingerprint, indent=2))


def latest_step(workdir: str) -> Optional[int]:
  """The newest checkpoint step in `workdir`, or None; creates nothing."""
  if not paths.isdir(paths.join(workdir, 'checkpoints')):
    return None
  checkpointer = ckpt_lib.Checkpointer(workdir)
  try:
    return checkpointer.latest_step()
  finally:
    checkpointer.close()


def checkpoint_steps(workdir: str) -> list[int]:
  """The checkpoint steps in `workdir` (oldest first); creates nothing."""
  if not paths.isdir(paths.join(workdir, 'checkpoints')):
    return []
  checkpointer = ckpt_lib.Checkpointer(workdir)
  try:
    return sorted(checkpointer.all_steps())
  finally:
    checkpointer.close()


def check_init_from(source: str, config):
  """``(config, newest step)`` of the run `source`, after checking that its model.* config is
  `config`'s and that it has a checkpoint."""
  old = read_config(source, 'train.init_from')
  changed = [k for k in cfg_lib.diff(old, config) if k.startswith('model.')]
  if changed:
    raise cfg_lib.ConfigError(
        f'train.init_from={source} holds a run with a different model ({", ".join(changed)} '
        'differ). Initialise from a run with the same model.* config, or set '
        "train.init_from=''.")
  step = latest_step(source)
  if step is None:
    raise FileNotFoundError(f'train.init_from={source} has no checkpoint yet; train it first, '
                            "or set train.init_from=''")
  return old, step
