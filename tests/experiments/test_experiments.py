"""Every experiment file under experiments/ runs its `smoke` variant end to end.

Parametrized over the files on disk, so a new experiment is covered without editing this test:
load + validate the config, train a few steps on all test devices, checkpoint, evaluate, and
write a sample picture. `tfds:` data sets run under `tfds.testing.mock_data`. Variants that train
on reflow pairs (listed in REFLOW_VARIANTS) run as ``variant,smoke`` on pairs that the test first
makes with `launch.reflow` from a smoke 1-RF run.
"""

import contextlib
import glob
import os

import pytest

from jaxgen.runtime import config as cfg
from jaxgen.runtime import train

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPERIMENTS = sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, 'experiments', '**', '*.py'),
                                                recursive=True)
    if not os.path.basename(p).startswith('_'))


# file:variant whose data is `pairs:<file>` and which start from `train.init_from` (a 1-RF run).
REFLOW_VARIANTS = ['experiments/rectified_flow/toy2d.py:reflow',
                   'experiments/rectified_flow/toy2d.py:distill']


def test_there_are_experiments():
  assert 'experiments/rectified_flow/toy2d.py' in EXPERIMENTS


@pytest.mark.parametrize('path', EXPERIMENTS)
def test_experiment_documents_itself(path):
  """The docstring gives the command, the runtime and the expected result."""
  text = open(os.path.join(ROOT, path)).read()
  doc = text.split('"""')[1] if text.lstrip().startswith('"""') else ''
  assert 'python -m launch.train' in doc and path in doc, f'{path}: docstring must give the command'
  assert any(w in doc.lower() for w in ('runtime', 'minutes', 'hours', 'seconds')), path
  assert 'expected' in doc.lower(), f'{path}: docstring must state the expected result'


@pytest.mark.parametrize('path', EXPERIMENTS)
def test_smoke_variant_runs_end_to_end(path, tmp_path):
  config = cfg.validate(cfg.load(os.path.join(ROOT, path) + ':smoke'))
  config = cfg.validate(cfg.override(config, {'train.progress': 'false'}))
  mock = contextlib.nullcontext()
  if config.data.name.startswith('tfds:'):
    import tensorflow_datasets as tfds

    mock = tfds.testing.mock_data(num_examples=16)
  if config.data.name == 'fashion_mnist' and not os.path.isdir('/usr/share/datasets/fashion-mnist'):
    pytest.skip('needs `apt-get install dataset-fashion-mnist` (.ci/run installs it)')
  with mock:
    state = train.run(config, str(tmp_path))
  assert int(state.step) == config.train.steps
  assert os.listdir(tmp_path / 'checkpoints')
  assert glob.glob(str(tmp_path / 'samples' / '*.png'))
  assert os.path.getsize(tmp_path / 'metrics.jsonl') > 0


@pytest.fixture(scope='module')
def reflow_source(tmp_path_factory):
  """A 4-step smoke 1-RF run with 64 reflow pairs, made by launch.train and launch.reflow."""
  from launch import reflow as launch_reflow
  from launch import train as launch_train

  w = str(tmp_path_factory.mktemp('reflow_source') / 'rf')
  assert launch_train.main(['--config', 'experiments/rectified_flow/toy2d.py:smoke', '--workdir',
                            w, '--config.train.progress=false', '--config.train.steps=4']) == 0
  assert launch_reflow.main(['--workdir', w, '--num', '64', '--chunk', '32']) == 0
  return w


@pytest.mark.xdist_group('reflow_source')   # one worker makes the source run once
@pytest.mark.parametrize('spec', REFLOW_VARIANTS)
def test_reflow_variant_smoke_runs_on_pairs_from_a_smoke_run(spec, reflow_source, tmp_path):
  config = cfg.load(os.path.join(ROOT, spec) + ',smoke')
  assert config.data.name.startswith('pairs:runs/') and config.train.init_from.startswith('runs/')
  config = cfg.validate(cfg.override(config, {
      'data.name': f'pairs:{reflow_source}/reflow/pairs.npz', 'train.init_from': reflow_source,
      'train.progress': 'false'}))
  state = train.run(config, str(tmp_path))
  assert int(state.step) == config.train.steps
  assert glob.glob(str(tmp_path / 'samples' / '*.png'))
  assert os.path.getsize(tmp_path / 'metrics.jsonl') > 0
