"""`python -m launch.train_deq`: post-hoc variational dequantization of a trained run, through
the checkpoint layer, resumable, reporting the variational bound beside the uniform one; and
`python -m launch.evaluate` reading the trained q (``bpd_vdeq`` with per-example values)."""

import json
import os
import shutil

import pytest

from launch import evaluate as launch_evaluate
from launch import train as launch_train
from launch import train_deq
from tests import refusal

TINY = ['--batch_size', '8', '--couplings', '1', '--hidden', '4', '--solver', 'euler',
        '--solver_steps', '1', '--checkpoint_every', '1']


@pytest.fixture(scope='module')
def digits_run(tmp_path_factory):
  """A 4-step smoke rectified flow on 8x8 digits (17 levels, likelihood through the ODE)."""
  w = str(tmp_path_factory.mktemp('rf') / 'run')
  assert launch_train.main(['--config', 'experiments/rectified_flow/digits.py:smoke',
                            '--workdir', w]) == 0
  return w


def test_trains_q_resumes_and_reports_both_bounds(digits_run, capsys):
  """q's steps are checkpoints under RUN/dequantizer; a longer second command resumes from the
  newest; metrics.json holds bpd and bpd_vdeq, each named, and the run's own files are kept."""
  before = sorted(os.listdir(os.path.join(digits_run, 'checkpoints')))
  assert train_deq.main(['--workdir', digits_run, '--steps', '1', *TINY]) == 0
  assert train_deq.main(['--workdir', digits_run, '--steps', '2', *TINY]) == 0
  out = capsys.readouterr().out
  assert 'resumed from step 1' in out
  folder = os.path.join(digits_run, 'dequantizer')
  assert sorted(os.listdir(os.path.join(folder, 'checkpoints'))) == ['1', '2']
  metrics = json.load(open(os.path.join(folder, 'metrics.json')))
  assert metrics['step'] == 2
  assert metrics['eval/bpd'] > 0 and metrics['eval/bpd_vdeq'] > 0
  assert metrics['likelihood'].startswith('uniformly dequantized (bound)')
  assert metrics['bpd_vdeq'].startswith('variational dequantization bound (Flow++)')
  assert sorted(os.listdir(os.path.join(digits_run, 'checkpoints'))) == before


def test_continuous_data_is_one_error_line_and_nothing_written(tmp_path, capsys):
  w = str(tmp_path / 'toy')
  assert launch_train.main(['--config', 'experiments/cnf/toy2d.py:smoke', '--workdir', w]) == 0
  capsys.readouterr()
  refusal.refused(capsys, train_deq.main, ['--workdir', w, *TINY],
                  r'--workdir=.*continuous data: there are no integer levels', w)


@pytest.mark.parametrize('flags, pattern', [
    (['--steps', '0'], r'--steps=0 must be >= 1'),
    (['--solver', 'dopri5'], r"--solver=dopri5: the training solve is fixed-step"),
])
def test_a_bad_flag_is_one_error_line_and_nothing_written(digits_run, flags, pattern, capsys):
  refusal.refused(capsys, train_deq.main, ['--workdir', digits_run, *TINY, *flags], pattern,
                  digits_run)


def test_evaluate_reports_the_bound_of_the_trained_q(digits_run, tmp_path, capsys):
  """launch.evaluate on a run with a trained q gives train_deq's bpd_vdeq (same q, key and
  passes), with per-example values and the bound named; ``--evaluate 0`` trains q only."""
  assert train_deq.main(['--workdir', digits_run, '--steps', '2', *TINY]) == 0
  reported = json.load(open(os.path.join(digits_run, 'dequantizer', 'metrics.json')))
  out = str(tmp_path / 'eval.json')
  assert launch_evaluate.main(['--workdir', digits_run, '--out', out,
                               "--config.eval.metrics=('bpd', 'bpd_vdeq')"]) == 0
  got = json.load(open(out))
  assert got['eval/bpd_vdeq'] == pytest.approx(reported['eval/bpd_vdeq'], rel=1e-4)
  assert got['eval/bpd'] == pytest.approx(reported['eval/bpd'], rel=1e-4)
  assert len(got['repeats'][0]['examples']['bpd_vdeq']) > 1
  assert 'likelihood' in got['provenance']   # the solve the bound's density used
  assert got['provenance']['evaluators']['bpd_vdeq'].startswith('variational dequantization')
  os.remove(os.path.join(digits_run, 'dequantizer', 'metrics.json'))
  assert train_deq.main(['--workdir', digits_run, '--steps', '3', *TINY, '--evaluate', '0']) == 0
  assert 'q trained to step 3 (not evaluated)' in capsys.readouterr().out
  assert not os.path.exists(os.path.join(digits_run, 'dequantizer', 'metrics.json'))


def test_evaluate_refuses_the_bound_of_a_run_without_q(digits_run, tmp_path, capsys):
  bare = str(tmp_path / 'bare')
  shutil.copytree(digits_run, bare, ignore=shutil.ignore_patterns('dequantizer'))
  out = str(tmp_path / 'eval.json')
  refusal.refused(capsys, launch_evaluate.main,
                  ['--workdir', bare, '--out', out, "--config.eval.metrics=('bpd_vdeq',)"],
                  r"'bpd_vdeq' needs a trained variational dequantizer.*launch.train_deq", out)
