"""Every user mistake is one ``error:`` line naming the key or file, exit status 2, no traceback,
and the workdir exactly as it was (snapshot of the tree before and after)."""

import json
import os
import socket
import subprocess
import sys

import jax
import pytest

from jaxgen.runtime import config as cfg
from jaxgen.runtime import workdir as workdir_lib
from jaxgen.store import liveness
from jaxgen.store import lock
from launch import evaluate as launch_evaluate
from launch import sample as launch_sample
from launch import train as launch_train
from tests.conftest import ROOT, tiny_config
from tests.refusal import SHORT, refused

RF = 'experiments/rectified_flow/toy2d.py:smoke'
SDE_2D = 'experiments/score_sde/toy2d.py:smoke'
SDE_IMG = 'experiments/score_sde/digits.py:smoke'
PCNN_PP = 'experiments/pixelcnn/digits.py:smoke,pp'
CLF = 'experiments/classifier/digits.py:smoke'
@pytest.fixture
def existing(tmp_path):
  """A workdir that already holds a file of the user's (it must stay exactly as it is)."""
  w = tmp_path / 'run'
  w.mkdir()
  (w / 'notes.txt').write_text('mine')
  return str(w)


# (experiment, overrides, the line's pattern): settings that used to fail after training or
# after config.json was written, now refused when the config is validated or the Run is built.
CONFIG_CASES = [
    (CLF, ["--config.eval.metrics=('loss','sliced_wasserstein')"],
     r"config\.eval\.metrics: \['sliced_wasserstein'\] need samples.*'classifier' has no sampler"),
    (RF, ['--config.sampling.grid=cosine'],
     r"config\.sampling\.grid='cosine' is not allowed; choose one of"),
    (RF, ['--config.sampling.grid=log_snr'],
     r"config\.sampling\.grid='log_snr' cannot be used by rectified flow.*choose one of"),
    (RF, ['--config.model.score_mlp.dtype=fp8'],
     r"config\.model\.score_mlp\.dtype='fp8' is not allowed.*'bfloat16'"),
    (RF, ["--config.eval.metrics=('bogus',)"], r"config\.eval\.metrics: unknown metric 'bogus'"),
    (RF, ['--config.model.net=unet'],
     r'config\.model\.unet: the rectified_flow network cannot be built for .*shape \(2,\)'),
    (SDE_2D, ['--config.sampling.solver=bogus'], r"config\.sampling\.solver='bogus' is not allowed"),
    (SDE_2D, ['--config.sampling.probability_flow=True', '--config.sampling.predictor=ancestral'],
     r"config\.sampling: sampling\.probability_flow=True has no 'ancestral' version"),
    (SDE_IMG, ['--config.model.unet.dtype=fp8'], r"config\.model\.unet\.dtype='fp8' is not allowed"),
    (SDE_IMG, ['--config.model.unet.resblock_type=bogus'],
     r"config\.model\.unet\.resblock_type='bogus' is not allowed"),
    (SDE_IMG, ['--config.model.unet.ch_mult=(1,2,2,2,2)'],
     r'config\.model\.unet: .*cannot be built for .*digits.*divisible'),
]


@pytest.mark.parametrize('exp,flags,pattern', CONFIG_CASES,
                         ids=[f'{e.split("/")[1]}-{f[0][9:]}' for e, f, _ in CONFIG_CASES])
def test_settings_that_failed_late_are_refused_before_writing(capsys, existing, exp, flags,
                                                              pattern):
  refused(capsys, launch_train.main, ['--config', exp, '--workdir', existing] + SHORT + flags,
          pattern, existing)


def test_cudnn_attention_off_a_gpu(capsys, tmp_path):
  if jax.default_backend() == 'gpu':
    pytest.skip('a GPU runs cuDNN attention')
  w = str(tmp_path / 'new')
  refused(capsys, launch_train.main, ['--config', SDE_IMG, '--workdir', w, *SHORT,
                                      '--config.model.unet.attn_impl=cudnn'],
          r"config\.model\.unet\.attn_impl='cudnn' needs an NVIDIA GPU.*attn_impl=xla", str(tmp_path))
  assert not os.path.exists(w)   # the folder made for the lock is removed again


def test_experiment_paths_that_are_not_experiment_files(capsys, tmp_path, existing):
  bad = tmp_path / 'bad.py'
  bad.write_text('def get_config(arg=None)\n  return 1\n')
  typo = tmp_path / 'typo.py'
  typo.write_text('def get_config(arg=None):\n  return undefined_name\n')
  for spec, pattern in [('README.md', "'README.md' is not a .py file"),
                        ('experiments', "'experiments' is a folder, not a .py file"),
                        (str(tmp_path / 'nope.py'), 'does not exist'),
                        (str(bad), r'bad\.py:1: SyntaxError'),
                        (str(typo), r"typo\.py:2: NameError: name 'undefined_name'")]:
    refused(capsys, launch_train.main, ['--config', spec, '--workdir', existing], pattern, existing)


def test_workdirs_that_cannot_be_written(capsys, tmp_path, monkeypatch):
  f = tmp_path / 'file'
  f.write_text('x')
  argv = ['--config', RF, *SHORT, '--workdir']
  refused(capsys, launch_train.main, argv + [str(f)], r'--workdir=.*file is a file, not a folder',
          str(tmp_path))
  refused(capsys, launch_train.main, argv + [str(f / 'run')], r'lies under .*file, which is a file',
          str(tmp_path))
  ro = tmp_path / 'ro'
  ro.mkdir()
  os.chmod(ro, 0o555)
  real_open = os.open
  if os.geteuid() == 0:  # root writes anywhere: refuse as a read-only mount would

    def read_only(path, *a, **k):
      if str(path).startswith(str(ro)):
        raise PermissionError(13, 'Permission denied', str(path))
      return real_open(path, *a, **k)

    monkeypatch.setattr(os, 'open', read_only)
  try:
    refused(capsys, launch_train.main, argv + [str(ro)], r'--workdir=.*ro is not writable.*permissions',
            str(tmp_path))
  finally:
    os.chmod(ro, 0o755)
    monkeypatch.setattr(os, 'open', real_open)

  def full(fd):
    raise OSError(28, 'No space left on device')

  monkeypatch.setattr(os, 'fsync', full)  # the disk is full from the first write on
  refused(capsys, launch_train.main, argv + [str(tmp_path / 'new')],
          r'no space left on the device.*free some space', str(tmp_path))


def test_write_atomic_leaves_no_temporary_file(tmp_path, monkeypatch):
  path = tmp_path / 'config.json'
  path.write_text('old')

  def full(fd):
    raise OSError(28, 'No space left on device')

  monkeypatch.setattr(os, 'fsync', full)
  with pytest.raises(OSError):
    workdir_lib.write_atomic(str(path), 'new')
  assert os.listdir(tmp_path) == ['config.json'] and path.read_text() == 'old'


def _run_folder(tmp_path, config_text=None):
  """A workdir holding only a config.json (no checkpoint yet)."""
  w = tmp_path / 'run'
  w.mkdir()
  text = cfg.to_json(tiny_config()) if config_text is None else config_text
  (w / workdir_lib.CONFIG).write_text(text)
  return str(w)


def test_a_garbled_config_json_is_named(capsys, tmp_path):
  w = _run_folder(tmp_path, '{"seed": 42, "data": ')
  pattern = r'run/config\.json is not valid JSON .*restore it'
  refused(capsys, launch_train.main, ['--config', RF, '--workdir', w, *SHORT], pattern, w)
  refused(capsys, launch_sample.main, ['--workdir', w], pattern, w)
  (tmp_path / 'b').mkdir()
  w2 = _run_folder(tmp_path / 'b', '[1, 2]')
  refused(capsys, launch_evaluate.main, ['--workdir', w2], r'config\.json holds a JSON list', w2)


def test_sample_and_evaluate_without_a_checkpoint_create_nothing(capsys, tmp_path):
  w = _run_folder(tmp_path)
  for main in (launch_sample.main, launch_evaluate.main):
    refused(capsys, main, ['--workdir', w], r'has no checkpoint yet; train it first', w)
  assert not os.path.exists(os.path.join(w, 'checkpoints'))


def test_a_held_workdir_is_refused_naming_the_holder(capsys, tmp_path):
  w = _run_folder(tmp_path)
  holder = {'host': socket.gethostname(), 'pid': os.getppid(), 'start': '2026-12-01T10:00:00',
            'command': 'launch.train', 'proc_start': liveness.proc_start(os.getppid()),
            'boot_id': liveness.boot_id(), 'token': 'x' * 32}
  with open(os.path.join(w, lock.LOCK), 'w') as f:
    json.dump(holder, f)
  pattern = rf'in use by another run \(host .*, pid {os.getppid()}, started 2026-12-01T10:00:00'
  refused(capsys, launch_train.main, ['--config', RF, '--workdir', w, *SHORT], pattern, w)
  refused(capsys, launch_sample.main, ['--workdir', w], pattern, w)


def test_colorization_of_one_channel_data_is_one_line(tmp_path):
  from jaxgen import data as data_lib
  from jaxgen.models import score_sde

  config = cfg.validate(cfg.load(SDE_IMG))
  spec = data_lib.build(config.data, config.seed).spec
  model = score_sde.build(config, spec)
  with pytest.raises(ValueError, match=r'colorization needs a model of RGB images .*shape \(8, 8, 1\)'):
    model.extras['colorize'](None, jax.random.PRNGKey(0), jax.numpy.zeros((2, 8, 8, 1)),
                             model.sampling_settings(config.sampling))


def test_a_real_process_prints_one_line(tmp_path):
  """The command itself, as a user runs it: exit 2, one line on stderr, nothing written."""
  w = tmp_path / 'run'
  proc = subprocess.run(
      [sys.executable, '-m', 'launch.train', '--config', PCNN_PP, '--workdir', str(w),
       '--config.sampling.method=bogus'], cwd=ROOT, capture_output=True, text=True, timeout=120,
      env=dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS='cpu'))
  assert proc.returncode == 2, proc.stderr
  assert proc.stderr.strip().splitlines() == [proc.stderr.strip()], proc.stderr
  assert proc.stderr.startswith("error: config.sampling.method='bogus'")
  assert not w.exists()


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  """A finished tiny run (2 steps, one checkpoint)."""
  w = str(tmp_path_factory.mktemp('trained') / 'run')
  assert launch_train.main(['--config', RF, '--workdir', w, *SHORT,
                            '--config.train.checkpoint_every=2', "--config.eval.metrics=('loss',)",
                            '--config.sampling.num_samples=8', '--config.sampling.steps=2']) == 0
  assert not os.path.exists(os.path.join(w, lock.LOCK))   # released after the run
  return w


def test_mistakes_on_a_trained_run(capsys, trained):
  refused(capsys, launch_sample.main, ['--workdir', trained, '--step', '7'],
          r'--step=7: .* has no checkpoint at that step; steps present: \[2\]', trained)
  refused(capsys, launch_sample.main, ['--workdir', trained, '--config.sampling.grid=log_snr'],
          r"config\.sampling\.grid='log_snr' cannot be used by rectified flow", trained)
  refused(capsys, launch_evaluate.main, ['--workdir', trained, "--config.eval.metrics=('fidd',)"],
          r"config\.eval\.metrics: unknown metric 'fidd'\. Did you mean 'fid'\?", trained)
  refused(capsys, launch_evaluate.main, ['--workdir', trained, "--config.eval.metrics=('loss', 3)"],
          r"config\.eval\.metrics: expected a tuple of str .*got int 3 at position 1", trained)
  # the real-data floor measures sample metrics only
  refused(capsys, launch_evaluate.main, ['--workdir', trained, '--real-data'],
          r"config\.eval\.metrics: \['loss'\] are not measured on samples; the real-data floor",
          trained)
  # fid without the Inception weights: the download and the converter, nothing written
  refused(capsys, launch_evaluate.main, ['--workdir', trained, "--config.eval.metrics=('fid',)"],
          r'config\.eval\.inception_weights is empty.*convert_inception_weights', trained)
  # a folder or a cut-short .npz as the weights: the key and the file, not the workdir
  fid = ["--config.eval.metrics=('fid',)", '--config.eval.inception_weights=']
  refused(capsys, launch_evaluate.main, ['--workdir', trained, fid[0], fid[1] + trained],
          r'config\.eval\.inception_weights=.*run is a folder, not the weights \.npz', trained)
  cut = os.path.join(os.path.dirname(trained), 'cut.npz')
  with open(cut, 'wb') as f:
    f.write(b'PK\x03\x04' + bytes(100))   # the start of a zip, cut short
  refused(capsys, launch_evaluate.main, ['--workdir', trained, fid[0], fid[1] + cut],
          r'config\.eval\.inception_weights=.*cut\.npz is no readable \.npz', trained)


def test_a_save_that_fails_during_the_run_exits_1_in_one_line(capsys, tmp_path, monkeypatch):
  """A failed save (here: a full disk at the first save) is a failed run, not bad input: exit 1,
  one `error:` line naming the step."""
  from jaxgen.store import checkpoint as ckpt_lib

  def full(self, step, *args, **kwargs):
    raise ckpt_lib.SaveFailed(f'could not save checkpoint step {step} to {self.directory}/'
                              f'{step}: No space left on device; there is no earlier checkpoint.')

  monkeypatch.setattr(ckpt_lib.Checkpointer, 'save', full)
  w = str(tmp_path / 'run')
  assert launch_train.main(['--config', 'experiments/rectified_flow/toy2d.py:smoke', '--workdir',
                            w, '--config.train.steps=4', '--config.train.checkpoint_every=2',
                            '--config.train.progress=false']) == 1
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith('error: could not save checkpoint step 2'), err
