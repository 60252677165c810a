"""Classifier-guided sampling of a score-SDE run with a classifier run (`jaxgen.tools.classifier_run`).

Default tests (config.json-only folders, nothing trained): a missing classifier run, one of
another family, a clean one, or one trained on another SDE / other SDE parameters / other data is
refused in one line that names both keys. The slow test trains a tiny score run and a tiny
classifier run through launch.train and samples class 3 through `guidance.draw_for` and
through ``launch.sample --config.sampling.classifier=...`` (the score-SDE family's guidance keys,
added at merge time, are patched into its schema here), and checks the refusals through the CLI:
one line, exit 2, nothing written.
"""

import json
import os

import numpy as np
import pytest

from jaxgen.runtime import config as cfg
from jaxgen.runtime import workdir as workdir_lib
from jaxgen.tools import classifier_run as guidance
from tests.conftest import ROOT
from launch import sample as launch_sample
from launch import train as launch_train

SCORE = 'experiments/score_sde/digits.py:smoke'
CLF = 'experiments/classifier/digits.py:smoke'


def _fake_run(path, config):
  os.makedirs(path)
  workdir_lib.write_config(str(path), config)
  return str(path)


def _score_config():
  return cfg.validate(cfg.load(SCORE))


def _clf_config(**overrides):
  c = cfg.load(CLF)
  for k, v in overrides.items():
    section, key = k.split('.')
    c[section][key] = v
  return cfg.validate(c)


@pytest.mark.parametrize('overrides, words', [
    (dict(), None),
    ({'model.noise': 'vesde'}, ["classifier's model.noise='vesde' (sigma_min=0.01, sigma_max=50)",
                                "score run's model.sde='vpsde' (beta_min=0.1, beta_max=20)"]),
    ({'model.beta_max': 10.0}, ["model.noise='vpsde' (beta_min=0.1, beta_max=10)",
                                "model.sde='vpsde' (beta_min=0.1, beta_max=20)"]),
    ({'model.noise': 'none'}, ["clean classifier (model.noise='none')"]),
    ({'data.scale': 'unit'},
     ["classifier's data.scale='unit'", "score run's data.scale='symmetric'"]),
])
def test_a_classifier_that_cannot_guide_is_refused_in_one_line(tmp_path, overrides, words):
  clf = _fake_run(tmp_path / 'clf', _clf_config(**overrides))
  if words is None:   # it matches: the next thing missing is its checkpoint
    with pytest.raises(FileNotFoundError, match='has no checkpoint yet'):
      guidance.open_classifier(clf, _score_config())
    return
  with pytest.raises(cfg.ConfigError) as e:
    guidance.open_classifier(clf, _score_config())
  text = str(e.value)
  assert '\n' not in text and text.startswith(f'config.sampling.classifier={clf}'), text
  for w in words:
    assert w in text, text


def test_missing_or_non_classifier_runs_are_refused(tmp_path):
  with pytest.raises(FileNotFoundError, match=r'config.sampling.classifier=.*holds no run'):
    guidance.open_classifier(str(tmp_path / 'nothing'), _score_config())
  other = _fake_run(tmp_path / 'sde', _score_config())
  with pytest.raises(cfg.ConfigError, match='is a score_sde run, not a classifier run'):
    guidance.open_classifier(other, _score_config())


# ---------------------------------------------------------------------------------- end to end


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
  """A 4-step smoke score run (PC sampler with 3 steps, no corrector) and a 2-step smoke
  classifier run on digits, both through launch.train."""
  root = tmp_path_factory.mktemp('guidance')
  score, clf = str(root / 'sde'), str(root / 'clf')
  assert launch_train.main(['--config', SCORE, '--workdir', score,
                            "--config.eval.metrics=('loss',)", '--config.sampling.steps=3',
                            '--config.sampling.corrector=none']) == 0
  assert launch_train.main(['--config', CLF, '--workdir', clf, '--config.train.steps=2']) == 0
  return score, clf


def _samples(workdir):
  d = os.path.join(workdir, 'samples')
  return sorted(os.listdir(d)) if os.path.isdir(d) else []


@pytest.mark.slow
def test_guided_samples_of_a_score_run_with_a_classifier_run(runs, tmp_path,
                                                            capsys):
  score, clf = runs
  # The classifier trained through launch.train: a checkpoint, accuracy evaluated, no samples.
  assert os.listdir(os.path.join(clf, 'checkpoints')) and not _samples(clf)
  evals = [json.loads(line) for line in open(os.path.join(clf, 'metrics.jsonl'))
           if 'eval/accuracy' in line]
  assert evals and {'eval/accuracy_t0.5', 'eval/loss'} <= set(evals[-1])

  from jaxgen.runtime import run as run_lib
  from jaxgen.runtime import samples as samples_lib
  run = run_lib.open_run(score, {'sampling.classifier': clf, 'sampling.classifier_scale': '1.0',
                                 'sampling.label': '3'})
  png = samples_lib.write(run, score, run.step, name='fn', draw=guidance.draw_for(run))
  data = np.load(os.path.join(score, 'samples', 'fn.npz'))
  assert png.endswith('fn.png') and os.path.exists(png)
  assert data['samples'].shape == (8, 8, 8, 1) and np.isfinite(data['samples']).all()
  assert data['label'].tolist() == [3] * 8 and int(data['nfe']) == 4   # 3 steps + denoising

  before = _samples(score)
  flags = [f'--config.sampling.classifier={clf}', '--config.sampling.classifier_scale=1',
           '--config.sampling.label=3']
  assert launch_sample.main(['--workdir', score] + flags) == 0
  new = sorted(set(_samples(score)) - set(before))
  assert new == ['sample_4_pc_clf3_s1.npz', 'sample_4_pc_clf3_s1.png'], new
  assert np.load(os.path.join(score, 'samples', new[0]))['label'].tolist() == [3] * 8
  capsys.readouterr()

  # Refusals through the CLI: one line, exit 2, nothing written.
  wrong = str(tmp_path / 'wrong')
  os.makedirs(wrong)
  c = workdir_lib.read_config(clf)
  c.model.noise = 'subvpsde'
  workdir_lib.write_config(wrong, c)
  before = _samples(score)
  for bad, words in ((['--config.sampling.classifier=' + str(tmp_path / 'none')], 'holds no run'),
                     (['--config.sampling.classifier=' + wrong],
                      "model.noise='subvpsde' (beta_min=0.1, beta_max=20) is not this score "
                      "run's model.sde='vpsde'"),
                     (flags[:1] + ['--config.sampling.label=10'], 'is not a class')):
    assert launch_sample.main(['--workdir', score] + bad) == 2, bad
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: ') and words in err[0], err
    assert _samples(score) == before
  # A classifier run has no sampler: launch.sample says so in one line.
  assert launch_sample.main(['--workdir', clf]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and 'it has no sampler' in err[0], err
  assert not _samples(clf)


def test_a_label_of_an_unconditional_score_run_is_the_guiding_classifiers_class():
  """sampling.label=k on an unconditional score run is refused at validation unless a classifier
  guides it (then k is checked against that classifier's classes when it is opened)."""
  base = cfg.load(os.path.join(ROOT, 'experiments/score_sde/digits.py') + ':smoke')
  base.sampling.label = 3
  with pytest.raises(cfg.ConfigError, match=r'config\.sampling\.label=3 must be -1'):
    cfg.validate(base)
  base.sampling.classifier = '/some/classifier/run'
  assert cfg.validate(base).sampling.label == 3


@pytest.mark.slow
def test_launch_evaluate_measures_the_classifier_guided_samples(runs, tmp_path, capsys):
  """launch.evaluate with sampling.classifier draws the guided samples (provenance names the
  classifier, its scale and label) and their FD differs from the unguided samples' FD."""
  from launch import evaluate as launch_evaluate
  score, clf = runs
  common = ["--config.eval.metrics=('fd',)", '--config.eval.num_samples=16',
            '--config.eval.rng_keys=(0,)']
  plain, guided = str(tmp_path / 'plain.json'), str(tmp_path / 'guided.json')
  assert launch_evaluate.main(['--workdir', score, '--out', plain] + common) == 0
  assert launch_evaluate.main(['--workdir', score, '--out', guided] + common + [
      f'--config.sampling.classifier={clf}', '--config.sampling.classifier_scale=5',
      '--config.sampling.label=3']) == 0
  a, b = json.load(open(plain)), json.load(open(guided))
  assert 'classifier' not in a['provenance']
  assert b['provenance']['classifier'] == {'run': clf, 'scale': 5.0, 'label': 3}
  assert a['eval/fd'] != b['eval/fd']
