"""launch.inpaint and launch.colorize on trained runs: the picture and arrays written, observed
pixels kept bit for bit, and one-line refusals (exit 2, nothing written).

Default tests: a NICE smoke run end to end; refusals on run records of families without the extra
(PixelCNN inpainting, NICE colorization) and on 1-channel score-SDE data (colorization), with
`run.open_run` replaced by one that builds the Run from config.json without a checkpoint (the
refusals never read the parameters). Slow tests: score-SDE and rectified-flow smoke runs end to
end (the U-Net's compilation takes minutes on 2 CPU cores).
"""

import os

import numpy as np
import pytest

from jaxgen.runtime import run as run_lib
from jaxgen.runtime import config as cfg
from jaxgen.runtime import workdir as workdir_lib
from launch import colorize as launch_colorize
from launch import inpaint as launch_inpaint
from launch import train as launch_train


def _tree(path):
  return sorted((d, tuple(sorted(f))) for d, _, f in os.walk(path))


def refused(capsys, main, argv, pattern, workdir):
  import re

  before = _tree(workdir)
  assert main(argv) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and re.match('error: ' + pattern, err[0]), err
  assert _tree(workdir) == before
  return err[0]


def _check_files(w, name, n_images, shape):
  with np.load(os.path.join(w, 'samples', name + '.npz')) as f:
    x, mask, filled = f['original'], f['mask'], f['inpainted']
    assert list(f['kinds']) == ['bottom_half', 'random']
    arrays = dict(f)
  assert x.shape == filled.shape == mask.shape == (n_images,) + shape
  np.testing.assert_array_equal(filled.view(np.uint32)[mask], x.view(np.uint32)[mask])
  assert os.path.exists(os.path.join(w, 'samples', name + '.png'))
  return arrays


@pytest.fixture(scope='module')
def nice_run(tmp_path_factory):
  w = str(tmp_path_factory.mktemp('nice') / 'run')
  assert launch_train.main(['--config', 'experiments/nice/digits.py:smoke', '--workdir', w,
                            '--config.train.progress=false']) == 0
  return w


def test_nice_inpaint_writes_the_picture_and_keeps_the_observed_pixels(nice_run, capsys):
  w = nice_run
  assert launch_inpaint.main(['--workdir', w, '--num', '2', '--masks', 'bottom_half,random',
                              '--config.sampling.inpaint_steps=3']) == 0
  out = capsys.readouterr().out
  assert 'bottom_half' in out and 'random' in out and 'MSE of the hidden pixels' in out
  assert 'log p (nats/image) original' in out
  f = _check_files(w, 'inpaint_5', 4, (8, 8, 1))
  assert f['log_prob'].shape == (4, 4) and f['log_prob_original'].shape == (4,)
  refused(capsys, launch_inpaint.main, ['--workdir', w, '--config.model.hidden=8'],
          r'only sampling\.\*', w)
  refused(capsys, launch_inpaint.main, ['--workdir', w, '--masks', 'bottom'],
          r"unknown mask kind\(s\) 'bottom'; available: bottom_half", w)
  refused(capsys, launch_colorize.main, ['--workdir', w],
          r"family 'nice' offers no colorization .*offered by: .*score_sde", w)


@pytest.fixture
def unopened(tmp_path, monkeypatch):
  """``make(experiment)``: a workdir holding only config.json; open_run builds its Run without a
  checkpoint (no parameters: the commands must refuse before reading them)."""
  monkeypatch.setattr(run_lib, 'open_run',
                      lambda workdir, overrides=None, step=None, teacher_for=None:
                      run_lib.Run(workdir_lib.read_config(workdir)))

  def make(exp):
    w = str(tmp_path / exp.split('/')[1])
    os.makedirs(w)
    workdir_lib.write_config(w, cfg.validate(cfg.load(exp)))
    return w

  return make


def test_a_family_without_inpainting_is_one_line(capsys, unopened):
  w = unopened('experiments/pixelcnn/digits.py:smoke')
  refused(capsys, launch_inpaint.main, ['--workdir', w],
          r"family 'pixelcnn' offers no inpainting \(its Model declares no 'inpaint' extra\); "
          r'inpainting is offered by: .*nice.*score_sde', w)
  refused(capsys, launch_colorize.main, ['--workdir', w],
          r"family 'pixelcnn' offers no colorization .*offered by: score_sde", w)


def test_colorizing_one_channel_data_is_one_line(capsys, unopened):
  w = unopened('experiments/score_sde/digits.py:smoke')
  refused(capsys, launch_colorize.main, ['--workdir', w, '--num', '2'],
          r'colorization needs RGB images \[H, W, 3\]; this run models config\.data\.name=digits '
          r'of shape \(8, 8, 1\)', w)


@pytest.mark.slow
def test_score_sde_inpaint_and_colorize(tmp_path, capsys):
  w = str(tmp_path / 'sde')
  assert launch_train.main(['--config', 'experiments/score_sde/digits.py:smoke', '--workdir', w,
                            "--config.eval.metrics=('loss',)"]) == 0
  assert launch_inpaint.main(['--workdir', w, '--num', '2', '--config.sampling.steps=3']) == 0
  assert 'NFE per image' in capsys.readouterr().out
  _check_files(w, 'inpaint_4', 4, (8, 8, 1))
  refused(capsys, launch_colorize.main, ['--workdir', w], r'colorization needs RGB images', w)
  c = str(tmp_path / 'rgb')
  assert launch_train.main(['--config', 'experiments/score_sde/digits.py:smoke', '--workdir', c,
                            '--config.data.name=tfds:cifar10', "--config.eval.metrics=('loss',)",
                            '--config.train.steps=2']) == 0
  assert launch_colorize.main(['--workdir', c, '--num', '2', '--config.sampling.steps=3']) == 0
  with np.load(os.path.join(c, 'samples', 'colorize_2.npz')) as f:
    out, gray = f['colorized'], f['gray']
  # the grey level is kept to float32 rounding of the colour-basis change, relative to the values
  # (a 2-step smoke model's colours blow up to ~1e4)
  np.testing.assert_allclose(out.mean(-1), gray[..., 0], atol=1e-6 * np.abs(out).max() + 1e-5)


@pytest.mark.slow
def test_rectified_flow_inpaint(tmp_path, capsys):
  w = str(tmp_path / 'rf')
  assert launch_train.main([
      '--config', 'experiments/rectified_flow/toy2d.py:smoke', '--workdir', w,
      '--config.data.name=digits', '--config.data.scale=symmetric', '--config.model.net=unet',
      '--config.model.unet.nf=8', '--config.model.unet.attn_resolutions=()',
      '--config.model.unet.ch_mult=(1,2)', "--config.eval.metrics=('loss',)",
      '--config.sampling.steps=2', '--config.sampling.num_samples=4', '--config.train.steps=2',
      '--config.train.checkpoint_every=2', '--config.train.batch_size=8']) == 0
  assert launch_inpaint.main(['--workdir', w, '--num', '2',
                              '--config.sampling.solver=heun', '--config.sampling.steps=3']) == 0
  assert '6 NFE per image' in capsys.readouterr().out
  _check_files(w, 'inpaint_2', 4, (8, 8, 1))
  refused(capsys, launch_inpaint.main, ['--workdir', w, '--config.sampling.solver=dopri5'],
          r'flow inpainting .*needs a fixed-step solver, not the adaptive dopri5', w)
