"""Every experiment file under experiments/<family>/ (not experiments/tables/) runs its `smoke` variant end to end.

Parametrized over the files on disk, so a new experiment is covered without editing this test:
each smoke runs as ``python -m launch.train --config FILE:smoke`` would (in-process through
`launch.train.main`; two of them as real subprocesses): load + validate the config, train a few
steps on all test devices, checkpoint, evaluate, and write a sample picture. Smokes whose data
set is not on this machine run on its synthetic stand-in (`common.smoke` sets
``data.stand_in``). Variants that train on reflow pairs (listed in REFLOW_VARIANTS) run as
``variant,smoke`` on pairs that the test first makes with `launch.reflow` from a smoke 1-RF run;
those in CODES_VARIANTS train on codes that the test first encodes from a smoke VQ-VAE run.
"""

import glob
import json
import os
import subprocess
import sys

import pytest

from jaxgen.runtime import config as cfg
from jaxgen.runtime import overrides as overrides_lib
from jaxgen.runtime import loop
from launch import train as launch_train
from tests.conftest import ROOT

EXPERIMENTS = sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, 'experiments', '*', '*.py'))
    if not os.path.basename(p).startswith('_')
    and os.path.basename(os.path.dirname(p)) != 'tables')   # tables: tests/experiments/test_tables.py


# file:variant whose data is `pairs:<init_from>/reflow/pairs` and which start from
# `train.init_from` (a 1-RF run here): `experiments.common.reflow_variants`.
REFLOW_VARIANTS = ['experiments/rectified_flow/toy2d.py:reflow',
                   'experiments/rectified_flow/toy2d.py:reflow3',
                   'experiments/rectified_flow/toy2d.py:distill']
# file:variant trained on `codes:<folder>` of a VQ-VAE run: the test first encodes a smoke
# VQ-VAE's codes (launch.encode_codes) and runs ``variant`` with data.name set to them.
CODES_VARIANTS = ['experiments/vqvae/fashion_prior.py:smoke']
# file:variant distilling a score-SDE run (`loss.teacher_run`): the test first trains that
# experiment's smoke teacher, then runs ``variant,smoke`` from it.
CD_VARIANTS = [('experiments/consistency/fashion_mnist.py:cd',
                'experiments/score_sde/fashion_mnist.py')]


def test_there_are_experiments():
  assert 'experiments/rectified_flow/toy2d.py' in EXPERIMENTS
  assert 'experiments/score_sde/ddpmpp_cont_vp.py' in EXPERIMENTS
  assert not any(p.endswith('common.py') for p in EXPERIMENTS)


@pytest.mark.parametrize('path', EXPERIMENTS)
def test_experiment_documents_itself(path):
  """The docstring gives the command, the runtime and the expected result in at most 12 lines,
  with no local run path and no machine load figure."""
  text = open(os.path.join(ROOT, path)).read()
  doc = text.split('"""')[1] if text.lstrip().startswith('"""') else ''
  assert 'python -m launch.train' in doc and path in doc, f'{path}: docstring must give the command'
  assert any(w in doc.lower() for w in ('runtime', 'minutes', 'hours', 'seconds')), path
  assert 'expected' in doc.lower(), f'{path}: docstring must state the expected result'
  assert len(doc.strip().splitlines()) <= 12, f'{path}: docstring over 12 lines'
  assert '/work/' not in doc and 'load' not in doc.lower(), f'{path}: a local path or machine load'


def test_experiments_are_a_package_without_file_loaders():
  """Shared pieces come from `experiments.common` by plain imports: no importlib loaders."""
  folders = {os.path.dirname(p) for p in EXPERIMENTS} | {'experiments'}
  for folder in folders:
    assert os.path.isfile(os.path.join(ROOT, folder, '__init__.py')), folder
  for path in glob.glob(os.path.join(ROOT, 'experiments', '**', '*.py'), recursive=True):
    assert 'importlib' not in open(path).read(), f'{path}: import shared pieces from experiments'


@pytest.mark.parametrize('path', EXPERIMENTS)
def test_smoke_sets_the_common_smoke_keys(path):
  """Each smoke goes through `common.smoke`: quick compile, no progress bar, stand-in data."""
  c = cfg.validate(cfg.load(os.path.join(ROOT, path) + ':smoke'))
  assert c.train.fast_compile and not c.train.progress and c.data.stand_in, path
  assert c.eval.num_batches == 1 and c.train.steps <= 20, path


def test_load_imports_a_package_experiment_from_any_working_directory(tmp_path):
  """A relative path from elsewhere, with the package's parent not on sys.path, still loads the
  file as a module of `experiments` (its `from experiments import common` resolves); a copy
  outside the package gets one line saying where it must live."""
  src = os.path.join(ROOT, 'experiments', 'score_sde', 'ncsnpp_cont_ve.py')
  (tmp_path / 'mine.py').write_text(open(src).read())
  script = f"""import os, sys
sys.path.insert(0, {ROOT!r})
from jaxgen.runtime import config as cfg
sys.path[:] = [p for p in sys.path if os.path.realpath(p or '.') != {ROOT!r}]
try:
  cfg.load('mine.py')
except cfg.ConfigError as e:
  print('copy:', e)
c = cfg.load({os.path.relpath(src, tmp_path)!r} + ':smoke')
print(c.model.sde, c.model.unet.nf, sys.modules['experiments'].__path__[0])
"""
  out = subprocess.run([sys.executable, '-c', script], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120)
  assert out.returncode == 0, out.stderr
  copy, loaded = out.stdout.splitlines()
  assert copy.startswith('copy: mine.py: ') and 'must live inside experiments/' in copy, copy
  assert loaded.split() == ['vesde', '16', os.path.join(ROOT, 'experiments')]


def test_load_names_the_file_for_each_mistake():
  with pytest.raises(cfg.ConfigError, match=r"experiment file 'nope\.py' does not exist"):
    cfg.load('nope.py:smoke')
  with pytest.raises(cfg.ConfigError, match=r'common\.py defines no get_config'):
    cfg.load(os.path.join(ROOT, 'experiments', 'common.py'))
  with pytest.raises(cfg.ConfigError, match=r"unknown variant 'nope'.*smoke"):
    cfg.load(os.path.join(ROOT, 'experiments', 'score_sde', 'ddpmpp_cont_vp.py:smoke,nope'))


def _assert_ran(workdir, steps):
  assert str(steps) in os.listdir(os.path.join(workdir, 'checkpoints'))
  family = cfg.from_json(open(os.path.join(workdir, 'config.json')).read()).model.family
  if family != 'classifier':   # a family without a sampler (Model.sample None) writes none
    assert glob.glob(os.path.join(workdir, 'samples', '*.png'))
  assert os.path.getsize(os.path.join(workdir, 'metrics.jsonl')) > 0


@pytest.mark.parametrize('path', [p for p in EXPERIMENTS
                                  if p + ':smoke' not in CODES_VARIANTS])
def test_smoke_variant_runs_end_to_end(path, tmp_path):
  steps = cfg.load(os.path.join(ROOT, path) + ':smoke').train.steps
  assert launch_train.main(['--config', path + ':smoke', '--workdir', str(tmp_path)]) == 0
  _assert_ran(str(tmp_path), steps)


@pytest.mark.parametrize('spec, name', [('experiments/rectified_flow/toy2d.py:smoke', None),
                                        ('experiments/nice/tfds_mnist.py:smoke', 'tfds:mnist')])
def test_smoke_runs_from_the_command_line(spec, name, tmp_path):
  """`python -m launch.train` in a fresh process exits 0 and writes its checkpoint; a smoke whose
  data set is not here says, in one line, that it runs on a stand-in."""
  steps = cfg.load(spec).train.steps
  out = subprocess.run([sys.executable, '-m', 'launch.train', '--config', spec,
                        '--workdir', str(tmp_path / 'w')], cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
  assert out.returncode == 0, out.stderr[-3000:]
  _assert_ran(str(tmp_path / 'w'), steps)
  lines = [line for line in (out.stdout + out.stderr).splitlines() if 'stand-in' in line]
  tfds_dir = os.path.expanduser(os.environ.get('TFDS_DATA_DIR', '~/tensorflow_datasets'))
  if name is None or glob.glob(os.path.join(tfds_dir, name.split(':', 1)[1], '*',
                                            'dataset_info.json')):
    assert not lines, lines
  else:
    assert len(lines) == 1 and name in lines[0], out.stdout[-2000:]


@pytest.fixture(scope='module')
def reflow_source(tmp_path_factory):
  """A 4-step smoke 1-RF run with 64 reflow pairs, made by launch.train and launch.reflow."""
  from launch import reflow as launch_reflow

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
  config = cfg.validate(overrides_lib.apply(config, {   # data.name follows train.init_from
      'train.init_from': reflow_source, 'train.progress': 'false'}))
  assert config.data.name == f'pairs:{reflow_source}/reflow/pairs'
  state = loop.train(config, str(tmp_path))
  assert int(state.step) == config.train.steps
  assert glob.glob(str(tmp_path / 'samples' / '*.png'))
  assert os.path.getsize(tmp_path / 'metrics.jsonl') > 0


@pytest.mark.parametrize('spec', CODES_VARIANTS)
def test_codes_variant_smoke_runs_on_codes_of_a_smoke_vqvae(spec, tmp_path):
  from launch import encode_codes as launch_encode

  vq = str(tmp_path / 'vq')
  assert launch_train.main(['--config', 'experiments/vqvae/fashion_mnist.py:smoke',
                            '--workdir', vq]) == 0
  assert launch_encode.main(['--workdir', vq]) == 0
  assert cfg.load(spec).data.name.startswith('codes:runs/')
  w = str(tmp_path / 'prior')
  assert launch_train.main(['--config', spec, '--workdir', w,
                            f'--config.data.name=codes:{vq}/codes']) == 0
  _assert_ran(w, cfg.load(spec).train.steps)


@pytest.mark.parametrize('spec, teacher', CD_VARIANTS)
def test_distillation_variant_smoke_runs_from_a_smoke_teacher(spec, teacher, tmp_path):
  t = str(tmp_path / 'teacher')
  assert launch_train.main(['--config', teacher + ':smoke', '--workdir', t]) == 0
  w = str(tmp_path / 'student')
  assert launch_train.main(['--config', spec + ',smoke', '--workdir', w,
                            f'--config.loss.teacher_run={t}']) == 0
  _assert_ran(w, cfg.load(spec + ',smoke').train.steps)
  from launch import evaluate as launch_evaluate   # the distilled run's loss reads the teacher

  assert launch_evaluate.main(['--workdir', w, '--out', str(tmp_path / 'e.json')]) == 0
  assert 'eval/loss' in json.load(open(tmp_path / 'e.json'))
