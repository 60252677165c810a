"""The pinned evaluation classifiers (jaxgen/assets,
`jaxgen.runtime.evaluators.classifier_asset`) and the
``fd`` / ``is`` / ``kid`` / ``precision`` / ``recall`` / ``class_accuracy`` evaluator built on
them."""

import glob
import json
import os
import shutil

import jax
import numpy as np
import pytest

from jaxgen.runtime.evaluators import classifier_asset as asset_lib
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import loop
from jaxgen.runtime import overrides as overrides_lib
from jaxgen.runtime import parallel
from jaxgen.runtime import run as run_lib
from jaxgen.runtime.evaluators import classifier_features as cf
from jaxgen.store import shards

DIGITS = 'experiments/classifier/digits.py:clean'
KEY = jax.random.key(0)


@pytest.fixture(scope='module')
def digits_run():
  return run_lib.Run(cfg_lib.validate(cfg_lib.load(DIGITS)), parallel.make_mesh(1))


@pytest.fixture(scope='module')
def real(digits_run):
  """The whole digits evaluation split (x in [-1, 1], labels)."""
  xs, ys = [], []
  for b in digits_run.data.eval_batches(128):
    m = np.asarray(b['mask'], bool)
    xs.append(np.asarray(b['x'])[m])
    ys.append(np.asarray(b['label'])[m])
  return np.concatenate(xs), np.concatenate(ys)


def _evaluator(run, names, x, labels=None):
  """The evaluator with a fake sampler that returns `x` (and `labels` as info['label'])."""
  info = {'nfe': 1} if labels is None else {'nfe': 1, 'label': labels}
  return cf.Evaluator(names, lambda p, r, n: (x[:n], info), run.data.eval_array, run.data.spec,
                      len(x), run.data.eval_source()['data']['name'])


def test_assets_are_small_and_their_checksums_verify():
  manifest = asset_lib.read_manifest()
  assert 'digits' in manifest
  for name, entry in manifest.items():
    path = os.path.join(asset_lib.ASSET_DIR, entry['file'])
    assert os.path.getsize(path) == entry['bytes'] < 1 << 20
    assert shards.file_sha256(path) == entry['sha256']
    a = asset_lib.load(name)
    assert a.entry['data']['scale'] == 'symmetric' and a.num_classes == 10


def test_export_is_byte_deterministic(tmp_path):
  """The stored parameters written again give the manifest's SHA-256 (same bytes)."""
  a = asset_lib.load('digits')
  out = tmp_path / 'again.npz'
  asset_lib.write_npz(str(out), asset_lib.flatten_params(a.params))
  assert shards.file_sha256(str(out)) == a.entry['sha256']


def test_tampered_asset_is_refused_in_one_line(tmp_path):
  for f in glob.glob(os.path.join(asset_lib.ASSET_DIR, '*')):
    shutil.copy(f, tmp_path)
  entry = asset_lib.read_manifest()['digits']
  path = tmp_path / entry['file']
  data = bytearray(path.read_bytes())
  data[len(data) // 2] ^= 0x01  # one bit inside a weight array
  path.write_bytes(bytes(data))
  with pytest.raises(asset_lib.AssetError) as e:
    asset_lib.load('digits', str(tmp_path))
  msg = str(e.value)
  assert '\n' not in msg and str(path) in msg and 'git checkout -- jaxgen/assets/' in msg
  os.remove(path)
  with pytest.raises(asset_lib.AssetError, match='is missing'):
    asset_lib.load('digits', str(tmp_path))


def test_fd_of_the_evaluation_split_is_zero_against_itself_and_large_when_pixels_shuffled(
    digits_run, real):
  x, _ = real
  assert abs(_evaluator(digits_run, ('fd',), x).run(None, KEY)['eval/fd']) < 1e-6
  perm = np.random.default_rng(0).permutation(64)
  shuffled = x.reshape(len(x), 64)[:, perm].reshape(x.shape)
  # Measured (benchmarks/classifier_features.py): FD 23.2 shuffled, 0.32 for 297 training images
  # against the test images (the floor of a perfect model with that many samples).
  out = _evaluator(digits_run, ('fd', 'kid'), shuffled).run(None, KEY)
  assert out['eval/fd'] > 10.0 and out['eval/kid'] > 0.5


def test_is_of_real_digits_is_near_the_number_of_classes_and_one_for_a_constant_image(
    digits_run, real):
  x, _ = real
  score = _evaluator(digits_run, ('is',), x).run(None, KEY)['eval/is']
  # 10 classes, near-uniform labels, a confident 96%-accurate classifier: measured 9.82.
  assert 9.0 < score <= 10.0
  const = np.zeros_like(x)
  assert abs(_evaluator(digits_run, ('is',), const).run(None, KEY)['eval/is'] - 1.0) < 1e-9


def test_precision_and_recall_are_one_for_the_split_itself_and_recall_zero_for_one_image(
    digits_run, real):
  """Every point lies in its own k-NN ball: the split against itself is (1, 1). One image
  repeated has k-NN radius 0, so its manifold holds no real feature (recall 0). Fewer samples
  than k + 1 = 4 are refused."""
  x, _ = real
  out = _evaluator(digits_run, ('precision', 'recall'), x).run(None, KEY)
  assert (out['eval/precision'], out['eval/recall']) == (1.0, 1.0)
  const = np.full((40,) + x.shape[1:], -1.0, np.float32)
  out = _evaluator(digits_run, ('recall',), const).run(None, KEY)
  assert out == {'eval/recall': 0.0, 'eval/nfe': 1.0}
  with pytest.raises(cfg_lib.ConfigError, match=r'num_samples=3: precision need at least 4'):
    cf.Evaluator(('precision',), None, digits_run.data.eval_array, digits_run.data.spec, 3,
                 'digits')


def test_class_accuracy_of_real_labelled_data_is_the_test_accuracy(digits_run, real):
  x, y = real
  out = _evaluator(digits_run, ('class_accuracy',), x, y).run(None, KEY)
  assert out['eval/class_accuracy'] == pytest.approx(
      asset_lib.read_manifest()['digits']['test_accuracy'], abs=1e-4)
  with pytest.raises(cfg_lib.ConfigError, match=r"config.eval.metrics: class_accuracy .*info\['label'\]"):
    _evaluator(digits_run, ('class_accuracy',), x).run(None, KEY)


def test_a_run_range_other_than_symmetric_is_mapped_to_the_classifiers():
  """'unit' data [0, 1] and 'levels' data [0, K-1] land on the same [-1, 1] values."""
  levels = np.arange(17, dtype=np.float32)
  np.testing.assert_allclose(cf.to_asset_range(levels / 16, 0.0, 1.0),
                             cf.to_asset_range(levels, 0.0, 16.0), atol=1e-6)
  np.testing.assert_allclose(cf.to_asset_range(levels, 0.0, 16.0), levels / 8 - 1, atol=1e-6)


def test_data_without_a_pinned_classifier_is_one_config_error():
  config = cfg_lib.validate(overrides_lib.apply(cfg_lib.load('experiments/rectified_flow/toy2d.py:smoke'),
                                                {'eval.metrics': "('fd',)", 'eval.num_samples': '8'}))
  run = run_lib.Run(config, parallel.make_mesh(1))
  from jaxgen.runtime import evaluate
  with pytest.raises(cfg_lib.ConfigError, match=r"^config.eval.metrics: fd need a pinned .*'toy2d"):
    evaluate.Evaluator(run)


def test_tiny_end_to_end_run_reports_fd_and_is(tmp_path):
  config = cfg_lib.validate(overrides_lib.apply(cfg_lib.load('experiments/nice/digits.py:smoke'), {
      'eval.metrics': "('loss', 'fd', 'is')", 'eval.num_samples': '16', 'train.steps': '2'}))
  loop.train(config, str(tmp_path))
  rows = [json.loads(line) for line in open(tmp_path / 'metrics.jsonl')]
  out = [r for r in rows if 'eval/fd' in r][-1]
  assert np.isfinite(out['eval/fd']) and out['eval/fd'] > 0
  assert 1.0 <= out['eval/is'] <= 10.0


def test_export_refuses_a_noisy_classifier_before_writing(tmp_path):
  import types
  config = cfg_lib.validate(cfg_lib.load('experiments/classifier/digits.py:smoke'))
  with pytest.raises(cfg_lib.ConfigError, match=r"^model.noise='vpsde': an evaluation classifier must be clean"):
    asset_lib.export(types.SimpleNamespace(config=config), str(tmp_path / 'x.npz'), 'cmd')
  assert not os.listdir(tmp_path)


@pytest.mark.slow
def test_export_cli_writes_a_verified_asset(tmp_path):
  """Trains the clean smoke classifier (about a minute on a busy 2-core CPU) and exports it."""
  from launch import export_classifier
  loop.train(cfg_lib.validate(cfg_lib.load('experiments/classifier/digits.py:clean,smoke')),
             str(tmp_path / 'run'))
  out = tmp_path / 'assets' / 'classifier_digits.npz'
  assert export_classifier.main(['--workdir', str(tmp_path / 'run'), '--out', str(out)]) == 0
  entry = asset_lib.read_manifest(str(out.parent))['digits']
  assert entry['sha256'] == shards.file_sha256(str(out)) and entry['test_examples'] == 297
  a = asset_lib.load('digits', str(out.parent))
  feats, logits = a.embed_all(np.zeros((3, 8, 8, 1), np.float32))
  assert feats.shape == (3, entry['feature_dim']) and logits.shape == (3, 10)


def test_the_training_reference_holds_the_training_split():
  """``eval.reference='train'`` compares with the training examples: the whole training split
  drawn as the "samples" (``real_data``, a permutation of it) is at FD 0 from it, the
  evaluation split is not, and the measured reference says which split and how many."""
  from jaxgen.runtime import evaluate

  config = cfg_lib.validate(overrides_lib.apply(cfg_lib.load('experiments/score_sde/digits.py'), {
      'eval.reference': 'train', 'eval.num_samples': '1500', 'eval.metrics': "('fd',)"}))
  run = run_lib.Run(config, parallel.make_mesh(1))
  ev = evaluate.Evaluator(run, real_data=True)
  assert abs(ev(None, KEY)['eval/fd']) < 1e-6
  assert ev.measured() == {'fd': {'samples': 1500, 'reference': 'digits train-1500'}}
  test = run.data.eval_array(0)
  on_test = cf.Evaluator(('fd',), lambda p, r, n: (test, {'nfe': 0}),
                         evaluate.inputs(run).reference, run.data.spec, len(test), 'digits', 'train')
  assert on_test.run(None, KEY)['eval/fd'] > 0.1
