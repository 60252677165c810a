"""The trainer: device-count independence, exact resume, NaN handling, learning-rate schedule."""

import json
import os

import jax
import numpy as np
import pytest

from jaxgen.runtime import config as cfg
from jaxgen.runtime import loop
from jaxgen.runtime import optim
from jaxgen.runtime import parallel
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import state as state_lib
from jaxgen.runtime import workdir as workdir_lib
from tests.conftest import run_steps, tiny_config

def test_one_and_eight_devices_give_the_same_parameters():
  """Same global batch on 1 and 8 CPU devices: parameters after 6 Adam steps agree to 1e-5
  (relative to each leaf's scale): only the order of the float reductions differs."""
  config = tiny_config()
  assert len(jax.devices()) >= 8
  a, b = run_steps(config, 1, 6), run_steps(config, 8, 6)
  for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
    np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-5 * float(np.abs(x).max() + 1e-3))
  assert not np.allclose(jax.tree.leaves(a.params)[0], jax.tree.leaves(run_steps(config, 1, 1).params)[0])


def test_resume_is_bit_identical(tmp_path):
  """6 steps straight == 3 steps, a restart from the checkpoint, 3 more (bit for bit, on CPU)."""
  straight = loop.train(tiny_config(), str(tmp_path / 'a'))
  loop.train(tiny_config(**{'train.steps': '3'}), str(tmp_path / 'b'))
  resumed = loop.train(tiny_config(), str(tmp_path / 'b'))
  assert int(resumed.step) == 6
  for x, y in zip(jax.tree.leaves(jax.device_get(straight)), jax.tree.leaves(jax.device_get(resumed))):
    np.testing.assert_array_equal(x, y)
  lines = [json.loads(l) for l in open(tmp_path / 'b' / 'metrics.jsonl')]
  assert [l['step'] for l in lines if 'loss' in l] == [3, 6]
  assert os.path.exists(tmp_path / 'b' / 'samples' / 'step_6.png')


def _files(workdir):
  """{relative path: bytes} of every file under `workdir`."""
  out = {}
  for root, _, names in os.walk(workdir):
    for n in names:
      p = os.path.join(root, n)
      out[os.path.relpath(p, workdir)] = open(p, 'rb').read()
  return out


def test_a_failed_start_leaves_the_workdir_as_it_was(tmp_path):
  """A resume with another model width is refused by the config check, and, with config.json
  gone, by the same check against the config stored in the checkpoint, naming the key (not the
  array shapes): either way nothing in the workdir changes (config.json is written only after
  the restore). A fresh start that fails creates nothing."""
  loop.train(tiny_config(**{'train.steps': '3'}), str(tmp_path / 'w'))
  before = _files(tmp_path / 'w')
  with pytest.raises(cfg.ConfigError, match='model.score_mlp.width'):
    loop.train(tiny_config(**{'model.score_mlp.width': '16'}), str(tmp_path / 'w'))
  assert _files(tmp_path / 'w') == before
  os.remove(tmp_path / 'w' / 'config.json')
  before = _files(tmp_path / 'w')
  with pytest.raises(cfg.ConfigError,
                     match=r'step 3 .*different config \(model.score_mlp.width differ'):
    loop.train(tiny_config(**{'model.score_mlp.width': '16'}), str(tmp_path / 'w'))
  assert _files(tmp_path / 'w') == before
  with pytest.raises(FileNotFoundError):
    loop.train(tiny_config(**{'train.init_from': str(tmp_path / 'none')}), str(tmp_path / 'x'))
  assert not (tmp_path / 'x').exists()


def test_resume_may_change_train_init_from(tmp_path):
  """A run with its own checkpoint ignores train.init_from, so changing it (the source moved) is
  accepted on resume, while a change of the data is not."""
  (tmp_path / 'config.json').write_text(cfg.to_json(tiny_config(**{'train.init_from': 'runs/a'})))
  workdir_lib.check_resume(str(tmp_path), tiny_config(**{'train.init_from': '/moved/a'}))
  workdir_lib.check_resume(str(tmp_path), tiny_config())
  with pytest.raises(cfg.ConfigError, match='data.name differ'):
    workdir_lib.check_resume(str(tmp_path), tiny_config(**{'data.name': 'toy2d:swissroll'}))


def test_learning_rate_warmup_and_decay():
  c = tiny_config(**{'optim.lr': '0.1', 'optim.warmup_steps': '10', 'optim.decay': 'cosine',
                     'train.steps': '100'}).optim
  lr = optim.learning_rate(c, 100)
  cos = lambda s: 0.5 * (1 + np.cos(np.pi * s / 100))
  np.testing.assert_allclose([lr(0), lr(5), lr(10), lr(100)], [0, 0.1 * 0.5 * cos(5), 0.1 * cos(10), 0], atol=1e-7)


def test_step_metrics_and_ema():
  config = tiny_config()
  trainer = state_lib.Trainer(run_lib.Run(config, parallel.make_mesh(1)))
  s0 = jax.device_get(trainer.init())
  s1, m = trainer.train_step(trainer.init(), trainer.run.batch(0))
  s1 = jax.device_get(s1)
  assert set(m) >= {'loss', 'grad_norm', 'lr', 'nonfinite'} and float(m['nonfinite']) == 0
  for p0, p1, e1 in zip(*(jax.tree.leaves(t) for t in (s0.params, s1.params, s1.ema_params))):
    np.testing.assert_allclose(e1, 0.9 * p0 + 0.1 * p1, rtol=1e-6, atol=1e-7)


def test_ema_warmup_follows_the_num_updates_rule():
  """With optim.ema_warmup the rate after n updates is min(ema_rate, (1 + n) / (10 + n))."""
  config = tiny_config(**{'optim.ema_warmup': 'true', 'optim.ema_rate': '0.2'})
  trainer = state_lib.Trainer(run_lib.Run(config, parallel.make_mesh(1)))
  state = trainer.init()
  states = [jax.device_get(state)]  # host copies: the step donates its input state
  for step in range(3):
    state = trainer.train_step(state, trainer.run.batch(step))[0]
    states.append(jax.device_get(state))
  want = jax.tree.leaves(states[0].params)
  for n in (1, 2, 3):
    rate = min(0.2, (1 + n) / (10 + n))  # 2/11 (the warm-up), then 0.2 (the cap) at n = 2, 3
    want = [rate * e + (1 - rate) * p for e, p in zip(want, jax.tree.leaves(states[n].params))]
    for got, w in zip(jax.tree.leaves(states[n].ema_params), want):
      np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)


def test_a_fast_compile_run_leaves_the_global_flag_as_it_was(tmp_path):
  """train.fast_compile applies to what the run compiles, not to the process afterwards."""
  old = jax.config.read('jax_disable_most_optimizations')
  jax.config.update('jax_disable_most_optimizations', False)
  try:
    loop.train(tiny_config(**{'train.steps': '1', 'train.fast_compile': 'true',
                              'eval.metrics': "('loss',)"}), str(tmp_path))
    assert jax.config.read('jax_disable_most_optimizations') is False
  finally:
    jax.config.update('jax_disable_most_optimizations', old)


def test_one_list_says_what_a_resume_and_an_opened_run_may_change():
  """An opened run may change only keys that leave the trained model alone; a resume may change
  those and the run's length and bookkeeping."""
  assert set(workdir_lib.USE_KEYS) < set(workdir_lib.RESUME_KEYS)
  assert 'likelihood.' in workdir_lib.USE_KEYS
  workdir_lib.check_overrides({'sampling.steps': '3', 'likelihood.rtol': '1e-3'})
  with pytest.raises(cfg.ConfigError, match='only sampling.*, likelihood.*, eval.*'):
    workdir_lib.check_overrides({'train.steps': '3'})


def test_the_progress_estimate_leaves_out_the_compile_step(tmp_path, monkeypatch, capsys):
  """'compiling the train step...' is printed before the first step, and the progress bar (whose
  rate gives the estimate) starts after that step, which compiles: it counts steps 2..N from step
  1, so the slow first step is not in its rate."""
  from jaxgen.runtime import writer as writer_lib

  bars = []

  class Bar:
    def __init__(self, total, initial):
      self.total, self.initial, self.n = total, initial, initial
      self.printed_before = 'compiling the train step...' in capsys.readouterr().out
      bars.append(self)

    def update(self, k):
      self.n += k

    def set_postfix(self, **_):
      pass

    def close(self):
      pass

  monkeypatch.setattr(writer_lib, 'progress_bar', Bar)
  loop.train(tiny_config(**{'train.steps': '4', 'train.progress': 'true'}), str(tmp_path))
  assert len(bars) == 1 and (bars[0].total, bars[0].initial, bars[0].n) == (4, 1, 4)
  assert bars[0].printed_before


def test_init_sees_the_first_global_training_batch():
  """`Run.example_x` (what `model.init` gets) is the whole first global batch, the same on every
  host, so a data-dependent initialisation (ActNorm) reads a batch's statistics."""
  config = tiny_config()
  run = run_lib.Run(config, parallel.make_mesh(1))
  x = run.example_x()
  assert x.shape[0] == config.train.batch_size > 1
  np.testing.assert_array_equal(x, run.data.train_batch(0, config.train.batch_size, 0, 1)['x'])
