"""Non-finite steps: never a checkpoint after a bad step, the older good ones kept, a message that
names the last good checkpoint (or says there is none) and the steps, train.skip_nonfinite."""

import json

import jax
import numpy as np
import pytest

from jaxgen.runtime import loop
from jaxgen.runtime import prefetch
from jaxgen.store import checkpoint as ckpt_lib
from tests.conftest import tiny_config


def _poison(monkeypatch, bad_steps):
  """Batches of the loop steps in `bad_steps` (0-based: the update step + 1) are all NaN."""
  real = prefetch.device_batches

  def poisoned(run, start, stop, *args, **kwargs):
    for step, batch in real(run, start, stop, *args, **kwargs):
      if step in bad_steps:
        batch = {k: v * np.nan if np.issubdtype(v.dtype, np.floating) else v
                 for k, v in batch.items()}
      yield step, batch

  monkeypatch.setattr(prefetch, 'device_batches', poisoned)


def _set(config, n):
  """`config` with train.skip_nonfinite = n (added where the schema lacks the key)."""
  config.train.skip_nonfinite = n
  return config


def _steps(workdir):
  c = ckpt_lib.Checkpointer(str(workdir))
  try:
    return c.all_steps()
  finally:
    c.close()


def test_a_diverged_run_keeps_its_good_checkpoints_and_names_the_last(tmp_path, monkeypatch):
  """Checkpoints every 2 steps (keep 2), logs every 5; batches from loop step 7 on are NaN, so
  update 8 is the first bad one: the check before the save at 8 stops the run, checkpoints 4 and
  6 stay (a frozen state at 8 and 10 would have pushed them out), the message names 6."""
  _poison(monkeypatch, range(7, 100))
  config = tiny_config(**{'train.steps': '12', 'train.checkpoint_every': '2',
                          'train.log_every': '5', 'train.keep_checkpoints': '2'})
  with pytest.raises(loop.TrainingDiverged) as e:
    loop.train(config, str(tmp_path))
  assert _steps(tmp_path) == [4, 6]
  msg = str(e.value)
  assert 'NaN/inf at step 8 (1 of the steps 7..8 since the last check' in msg, msg
  assert f'The last good checkpoint is step 6 in {tmp_path}/checkpoints' in msg
  assert 'optim.lr' in msg and 'train.skip_nonfinite' in msg


def test_a_run_that_diverges_before_its_first_checkpoint_says_there_is_none(tmp_path):
  """A real divergence (lr 1e30): the parameters overflow, the next loss is NaN; no checkpoint was
  due yet, and the message says so instead of naming one; nothing is left in checkpoints/."""
  config = tiny_config(**{'train.steps': '9', 'train.checkpoint_every': '6', 'optim.lr': '1e30',
                          'optim.grad_clip': '0', 'optim.warmup_steps': '0'})
  with pytest.raises(loop.TrainingDiverged, match=r'NaN/inf at step \d .*No checkpoint was '
                     r'written \(none was due yet: train.checkpoint_every=6\)'):
    loop.train(config, str(tmp_path))
  assert not (tmp_path / 'checkpoints').exists()


def test_skip_nonfinite_skips_that_many_bad_batches(tmp_path, monkeypatch):
  """With train.skip_nonfinite=2, two NaN batches are skipped (the state after them is the state
  before them: the final parameters are finite and the log says 'nonfinite' for those windows,
  averaging the finite steps only), and the run finishes; a third one stops it."""
  _poison(monkeypatch, {1, 4})
  state = loop.train(_set(tiny_config(), 2), str(tmp_path / 'a'))
  assert int(state.step) == 6
  assert all(np.isfinite(x).all() for x in jax.tree.leaves(jax.device_get(state)))
  assert _steps(tmp_path / 'a') == [3, 6]
  lines = [json.loads(l) for l in open(tmp_path / 'a' / 'metrics.jsonl') if '"loss"' in l]
  assert [(l['step'], round(l['nonfinite'], 3)) for l in lines] == [(3, 0.333), (6, 0.333)]
  assert all(np.isfinite(l['loss']) for l in lines)

  _poison(monkeypatch, {1, 2, 4})
  with pytest.raises(loop.TrainingDiverged, match='at step 5 .*skip_nonfinite=2 allowed 2'):
    loop.train(_set(tiny_config(), 2), str(tmp_path / 'b'))
  assert _steps(tmp_path / 'b') == [3]
