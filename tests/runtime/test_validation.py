"""Validation during training (`jaxgen.runtime.validation`): every checkpoint save logs
``val/<metric>`` measured on the whole held-out split, retention keeps the best checkpoint even
when it is older than the newest ``keep``, a resume keeps it (the best is read back from
metrics.jsonl), and bad settings are one error line."""

import json
import os

import numpy as np
import pytest

from jaxgen.runtime import config as cfg
from jaxgen.runtime import evaluate as evaluate_lib
from jaxgen.runtime import loop
from jaxgen.runtime import overrides as overrides_lib
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import validation as validation_lib
from launch import train as launch_train
from tests.refusal import SHORT, refused

PCNN = 'experiments/pixelcnn/digits.py:smoke'   # data.validation = 150, validation_metric bpd


def _config(**kw):
  base = {'train.steps': '4', 'train.checkpoint_every': '2', 'train.log_every': '2',
          'train.keep_checkpoints': '1', 'train.num_devices': '1'}
  return cfg.validate(overrides_lib.apply(cfg.load(PCNN), {**base, **kw}))


def _lines(workdir):
  return [json.loads(x) for x in open(os.path.join(workdir, 'metrics.jsonl'))]


def _checkpoints(workdir):
  return sorted(int(n) for n in os.listdir(os.path.join(workdir, 'checkpoints')) if n.isdigit())


def test_each_save_logs_the_validation_metric_of_the_whole_split(tmp_path):
  """Saves at steps 2 and 4 log val/bpd; step 4's equals the bits/dim of the final parameters
  on the 150 held-out images (not the test split's eval/bpd)."""
  w = str(tmp_path / 'w')
  state = loop.train(_config(), w)
  val = {x['step']: x['val/bpd'] for x in _lines(w) if 'val/bpd' in x}
  assert sorted(val) == [2, 4] and all(np.isfinite(v) for v in val.values())
  run = run_lib.Run(_config())
  run.params, run.step, run.rng = state.params, 4, state.rng
  split = run.data.validation()
  assert split.eval_size == 150
  again = evaluate_lib.Evaluator(run, metrics=('bpd',), data=split)(run.params, run.eval_rng())
  assert again['eval/bpd'] == pytest.approx(val[4], rel=1e-5)
  final = next(x for x in _lines(w) if 'eval/bpd' in x)
  assert final['eval/bpd'] != pytest.approx(val[4], rel=1e-6)


def _scripted(monkeypatch, values):
  """Makes the validation metric return `values` in turn (instead of evaluating)."""
  it = iter(values)
  init = validation_lib.Tracker.__init__

  def patched(self, *a, **k):
    init(self, *a, **k)
    self._evaluator = lambda params, rng: {'eval/bpd': next(it)}

  monkeypatch.setattr(validation_lib.Tracker, '__init__', patched)


def test_retention_keeps_the_best_checkpoint_across_a_resume(tmp_path, monkeypatch):
  """keep_checkpoints=1, a save every step, val/bpd 5, 1, 4 (3 steps), then a resume to 6 with
  3, 2, 6: the checkpoints left are the best (step 2, older than the newest) and the newest;
  the resumed launch knew the best from metrics.jsonl (else step 5's 2 would have won)."""
  w = str(tmp_path / 'w')
  _scripted(monkeypatch, [5.0, 1.0, 4.0])
  loop.train(_config(**{'train.steps': '3', 'train.checkpoint_every': '1'}), w)
  assert _checkpoints(w) == [2, 3]
  _scripted(monkeypatch, [3.0, 2.0, 6.0])
  loop.train(_config(**{'train.steps': '6', 'train.checkpoint_every': '1'}), w)
  assert _checkpoints(w) == [2, 6]
  val = [(x['step'], x['val/bpd']) for x in _lines(w) if 'val/bpd' in x]
  assert val == [(1, 5.0), (2, 1.0), (3, 4.0), (4, 3.0), (5, 2.0), (6, 6.0)]
  assert validation_lib.best(_lines(w), 'val/bpd', _checkpoints(w)) == (2, 1.0)


def test_without_a_validation_split_nothing_is_measured(tmp_path):
  """data.validation = 0: no val/ line, retention keeps the newest `keep` only."""
  w = str(tmp_path / 'w')
  loop.train(_config(**{'data.validation': '0'}), w)
  assert not any(k.startswith('val/') for x in _lines(w) for k in x)
  assert _checkpoints(w) == [4]


@pytest.mark.parametrize('flag, pattern', [
    ('--config.train.validation_metric=accuracy', r'validation_metric=.accuracy.*choose one of'),
    ('--config.data.validation=1500', r'data.validation=1500.*1499'),
    ('--config.data.validation=-3', r'data.validation=-3.*out of range'),
])
def test_bad_validation_settings_are_refused(tmp_path, capsys, flag, pattern):
  """One error line naming the key, exit 2, nothing written."""
  w = str(tmp_path / 'w')
  refused(capsys, launch_train.main, ['--config', PCNN, '--workdir', w, *SHORT, flag], pattern, w)
  assert not os.path.exists(w)


def test_a_likelihood_metric_of_a_family_without_one_names_the_key(tmp_path):
  """validation_metric='bpd' on a family without log_prob (rectified flow has one; the
  classifier has none) is refused naming train.validation_metric, before anything is written."""
  c = cfg.load('experiments/classifier/digits.py:smoke')
  c = cfg.validate(overrides_lib.apply(c, {'data.validation': '100',
                                           'train.validation_metric': 'bpd'}))
  w = tmp_path / 'w'
  with pytest.raises(cfg.ConfigError, match=r'train.validation_metric=.bpd.*likelihood'):
    loop.train(c, str(w))
  assert not os.path.exists(w)


def test_a_resume_on_another_split_is_refused_by_the_data_fingerprint(tmp_path):
  """data.json records the split; a resume whose data holds out other examples is refused."""
  from jaxgen import data as data_lib
  from jaxgen.runtime import workdir as workdir_lib
  from tests.conftest import data_cfg

  w = str(tmp_path)
  workdir_lib.write_data_fingerprint(w, data_lib.build(data_cfg(name='digits', scale='levels',
                                                                validation=150), 0), False)
  assert json.load(open(tmp_path / 'data.json'))['validation'] == 150
  same = data_lib.build(data_cfg(name='digits', scale='levels', validation=150), 5)
  workdir_lib.check_data_fingerprint(w, same, True)
  for n in (0, 100):
    other = data_lib.build(data_cfg(name='digits', scale='levels', validation=n), 0)
    with pytest.raises(cfg.ConfigError, match='the data changed'):
      workdir_lib.check_data_fingerprint(w, other, True)
