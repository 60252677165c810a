"""Unknown solver or grid names are refused when the config is validated, before anything is
written: ``python -m launch.train`` exits with code 2, prints one ``error:`` line naming the key and
the allowed values, and does not create the workdir."""

import os
import subprocess
import sys

import pytest

from jaxgen.ode import grids
from jaxgen.ode import solvers
from tests.conftest import EXP, ROOT

SOLVER_NAMES = solvers.names() + list(solvers.ALIASES)


@pytest.mark.parametrize('key,allowed', [
    ('sampling.grid', grids.NAMES),
    ('sampling.solver', SOLVER_NAMES),
    ('likelihood.solver', SOLVER_NAMES),
    ('likelihood.grid', grids.NAMES),
])
def test_unknown_name_is_refused_before_anything_is_written(tmp_path, key, allowed):
  w = tmp_path / 'run'
  proc = subprocess.run(
      [sys.executable, '-m', 'launch.train', '--config', EXP, '--workdir', str(w),
       f'--config.{key}=nope'],
      cwd=ROOT, env=dict(os.environ, JAX_PLATFORMS='cpu', PYTHONPATH=ROOT), capture_output=True,
      text=True, timeout=300)
  assert proc.returncode == 2, proc.stderr[-2000:]
  errors = [line for line in proc.stderr.splitlines() if line.startswith('error:')]
  assert len(errors) == 1, proc.stderr
  assert f"config.{key}='nope' is not allowed" in errors[0]
  assert all(repr(name) in errors[0] for name in allowed), errors[0]
  assert not w.exists()
