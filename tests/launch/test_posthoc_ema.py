"""``python -m launch.posthoc_ema``: writes a run's post-hoc EMA as a new workdir that
`open_run` (launch.evaluate / launch.sample) reads, with its record; a bad sigma_rel, a run that
tracked no profiles, a run without snapshots or an existing --out is one ``error:`` line, exit 2,
nothing written."""

import json
import os
import shutil

import jax
import numpy as np
import pytest

from jaxgen.runtime import loop
from jaxgen.runtime import posthoc
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import workdir as workdir_lib
from launch import posthoc_ema as cli
from tests.conftest import tiny_config
from tests.refusal import refused

OVER = {'optim.posthoc_ema': '(0.05, 0.1)', 'train.posthoc_every': '3'}


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('phema') / 'run'
  loop.train(tiny_config(**OVER), str(workdir))
  return workdir


def test_writes_an_evaluable_workdir(trained, tmp_path):
  out = tmp_path / 'out'
  assert cli.main(['--workdir', str(trained), '--sigma_rel', '0.07', '--out', str(out)]) == 0
  record = json.loads((out / 'posthoc.json').read_text())
  assert record['step'] == 6 and record['snapshots'] == [3, 6] and record['sigma_rel'] == 0.07
  run = run_lib.open_run(str(out))
  want, _ = posthoc.reconstruct(run_lib.Run(tiny_config(**OVER)), str(trained), 0.07)
  assert run.step == 6
  for x, y in zip(jax.tree.leaves(run.params), jax.tree.leaves(want), strict=True):
    np.testing.assert_array_equal(x, y)
  source = run_lib.open_run(str(trained))
  np.testing.assert_array_equal(run.rng, source.rng)


def test_default_out_is_beside_the_run(trained):
  out = trained.parent / 'run_phema0.05_step3'
  try:
    assert cli.main(['--workdir', str(trained), '--sigma_rel', '0.05', '--step', '3']) == 0
    assert workdir_lib.latest_step(str(out)) == 3
  finally:
    shutil.rmtree(out, ignore_errors=True)


def test_bad_sigma_rel_is_refused(trained, capsys):
  out = trained.parent / 'never'
  refused(capsys, cli.main, ['--workdir', str(trained), '--sigma_rel', '0.5', '--out', str(out)],
          r'--sigma_rel=0\.5 is out of range', trained.parent)


def test_run_without_profiles_is_refused(tmp_path, capsys):
  workdir = tmp_path / 'plain'
  os.makedirs(workdir)
  workdir_lib.write_config(str(workdir), tiny_config())
  refused(capsys, cli.main, ['--workdir', str(workdir), '--sigma_rel', '0.05'],
          r'tracked no post-hoc EMA profiles .*optim\.posthoc_ema', tmp_path)


def test_run_without_snapshots_is_refused(tmp_path, capsys):
  workdir = tmp_path / 'young'
  os.makedirs(workdir)
  workdir_lib.write_config(str(workdir), tiny_config(**OVER))
  refused(capsys, cli.main, ['--workdir', str(workdir), '--sigma_rel', '0.05'],
          r'has no post-hoc EMA snapshot', tmp_path)


def test_existing_out_is_refused(trained, tmp_path, capsys):
  out = tmp_path / 'taken'
  os.makedirs(out)
  refused(capsys, cli.main, ['--workdir', str(trained), '--sigma_rel', '0.05', '--out', str(out)],
          r'--out=.* exists', tmp_path)
