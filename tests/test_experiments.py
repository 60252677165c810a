"""Every experiment file under experiments/ runs its `smoke` variant end to end.

Parametrized over the files on disk, so a new experiment is covered without editing this test:
load + validate the config, train a few steps on all test devices, checkpoint, evaluate, and
write a sample picture. `tfds:` data sets run under `tfds.testing.mock_data`.
"""

import contextlib
import glob
import os

import pytest

from jaxgen import config as cfg
from jaxgen import train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPERIMENTS = sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, 'experiments', '**', '*.py'),
                                                recursive=True)
    if not os.path.basename(p).startswith('_'))


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
