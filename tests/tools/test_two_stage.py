"""launch.two_stage end to end at smoke size (a VQ-VAE, its codes, a PixelCNN prior on them):
decoded samples with their codes, the bits-per-code and bound numbers and FD; a VQ-VAE whose K
differs from the prior's and a prior not trained on codes are refused in one line."""

import json
import os

import numpy as np
import pytest

from launch import encode_codes as launch_encode
from launch import train as launch_train
from launch import two_stage as launch_two_stage
from tests.refusal import refused

VQVAE = 'experiments/vqvae/fashion_mnist.py:smoke'
PRIOR = 'experiments/vqvae/fashion_prior.py:smoke'


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
  root = tmp_path_factory.mktemp('two_stage')
  vq, prior = str(root / 'vq'), str(root / 'prior')
  assert launch_train.main(['--config', VQVAE, '--workdir', vq]) == 0
  assert launch_encode.main(['--workdir', vq, '--shard', '128', '--batch', '64']) == 0
  assert launch_train.main(['--config', PRIOR, '--workdir', prior,
                            f'--config.data.name=codes:{vq}/codes']) == 0
  return vq, prior


def test_two_stage_samples_and_evaluation_end_to_end(runs, capsys):
  vq, prior = runs
  assert launch_two_stage.main(['--workdir', prior, '--metrics', 'fd,is',
                                '--num-samples', '16']) == 0
  z = np.load(os.path.join(prior, 'samples', 'two_stage_4_fast.npz'))
  assert z['samples'].shape == (4, 28, 28, 1) and z['codes'].shape == (4, 7, 7)
  assert z['codes'].min() >= 0 and z['codes'].max() < 16 and int(z['nfe']) == 49
  assert np.all(z['samples'] == np.round(z['samples'])) and z['samples'].max() <= 255
  assert os.path.isfile(os.path.join(prior, 'samples', 'two_stage_4_fast.png'))
  result = json.load(open(os.path.join(prior, 'eval_two_stage_4.json')))
  assert 0 < result['eval/prior_bits_per_code'] < 8 and np.isfinite(result['eval/fd'])
  assert 1 <= result['eval/is'] <= 10 and result['provenance']['vqvae'] == vq
  # the bound moves from the uniform prior (4 bits per code here) to the prior's bits per code
  np.testing.assert_allclose(result['eval/two_stage_bpd'] - result['eval/uniform_prior_bpd'],
                             (result['eval/prior_bits_per_code'] - 4) * 49 / 784, rtol=1e-5)
  # the codes' test-split numbers are their index's; the sample count is in the provenance
  test = json.load(open(os.path.join(vq, 'codes', 'index.json')))['splits']['test']
  assert [result[f'eval/{k}'] for k in ('recon_mse', 'usage', 'perplexity')] == [
      test['recon_mse'], test['usage'], test['perplexity']]
  assert result['provenance']['measured']['fd']['samples'] == 16


def test_out_writes_the_results_there_without_sample_metrics(runs, tmp_path, capsys):
  """--out alone writes the bits numbers (no sample metric) to that file, as a table's row."""
  _, prior = runs
  out = str(tmp_path / 'row.json')
  assert launch_two_stage.main(['--workdir', prior, '--out', out]) == 0
  result = json.load(open(out))
  assert result['step'] == 4 and 'eval/fd' not in result and result['eval/usage'] > 0


def test_a_vqvae_with_another_k_is_refused(runs, tmp_path, capsys):
  _, prior = runs
  other = str(tmp_path / 'vq8')
  assert launch_train.main(['--config', VQVAE, '--workdir', other,
                            '--config.model.num_codes=8']) == 0
  capsys.readouterr()
  refused(capsys, launch_two_stage.main, ['--workdir', prior, '--vqvae', other],
          r'the prior models 16 codes on a 7x7 grid, the VQ-VAE .* has K = 8 codes', prior)


def test_a_prior_not_trained_on_codes_is_refused(runs, capsys):
  vq, _ = runs
  refused(capsys, launch_two_stage.main, ['--workdir', vq],
          r"trains on data.name='fashion_mnist', not on codes:<folder>", vq)
