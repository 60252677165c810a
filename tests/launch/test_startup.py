"""What a command does before it imports JAX: every launch module answers `--help` (exit 0, a
usage block) and refuses an unknown flag (exit 2, one line) without importing jax, flax, optax or
orbax; and `python -m launch...` under an interpreter that cannot run jaxgen prints one `error:`
line naming that interpreter and the fix (exit 2, no traceback)."""

import glob
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

MODULES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, 'launch', '*.py'))
                 if not p.endswith('__init__.py'))

# Runs `python -m launch.<name> ARGS...` in this process, then fails (status 99) if it imported
# any of the heavy libraries.
WRAPPER = '''
import runpy, sys
module, sys.argv = sys.argv[1], sys.argv[1:]
try:
  runpy.run_module(module, run_name='__main__', alter_sys=True)
  code = 0
except SystemExit as e:
  code = e.code
heavy = [m for m in ('jax', 'flax', 'optax', 'orbax') if m in sys.modules]
if heavy:
  print('imported before reading the arguments:', heavy, file=sys.stderr)
  sys.exit(99)
sys.exit(code)
'''


def _launch(name, *args, python=sys.executable):
  env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS='cpu')
  return subprocess.run([python, '-c', WRAPPER, f'launch.{name}', *args], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=120)


def test_every_launch_module_is_listed():
  assert {'train', 'sample', 'evaluate', 'reflow', 'inpaint', 'solvers', 'table'} <= set(MODULES)


@pytest.mark.parametrize('name', MODULES)
def test_help_reads_no_jax(name):
  p = _launch(name, '--help')
  assert p.returncode == 0, p.stderr[-2000:]
  assert p.stdout.startswith(f'usage: python -m launch.{name}'), p.stdout[:300]


@pytest.mark.parametrize('name', MODULES)
def test_unknown_flag_is_refused_without_jax(name):
  """(argparse names the missing required arguments first where a command has them.)"""
  p = _launch(name, '--no-such-flag')
  assert p.returncode == 2, p.stderr[-2000:]
  errors = [ln for ln in p.stderr.splitlines() if 'error:' in ln]
  assert len(errors) == 1 and 'Traceback' not in p.stderr, p.stderr[-2000:]


def test_train_names_the_unknown_flag():
  p = _launch('train', '--config', 'experiments/rectified_flow/toy2d.py', '--workdir', 'w',
              '--no-such-flag')
  assert p.returncode == 2 and 'unrecognized argument: --no-such-flag' in p.stderr, p.stderr


def test_missing_experiment_file_is_refused_without_jax(tmp_path):
  p = _launch('train', '--config', str(tmp_path / 'nope.py'), '--workdir', str(tmp_path / 'w'))
  assert p.returncode == 2, p.stderr[-2000:]
  assert p.stderr.startswith('error: experiment file') and 'nope.py' in p.stderr
  assert not os.path.exists(tmp_path / 'w')


def _python_without_jax():
  """An interpreter on this machine that cannot import jax (the machine's own python3), or None."""
  for candidate in ('/usr/bin/python3', shutil.which('python3'), shutil.which('python')):
    if not candidate or not os.path.exists(candidate):
      continue
    p = subprocess.run([candidate, '-c', 'import importlib.util, sys; '
                        'print(sys.executable); sys.exit(importlib.util.find_spec("jax") is None)'],
                       capture_output=True, text=True, timeout=60)
    if p.returncode == 1:
      return candidate, p.stdout.strip()
  return None


def test_an_interpreter_without_jax_gets_one_line_naming_it_and_the_fix():
  found = _python_without_jax()
  if found is None:
    pytest.skip('every python3 on this machine has jax: no interpreter to refuse')
  python, executable = found
  p = subprocess.run([python, '-m', 'launch.train', '--help'], cwd=ROOT, capture_output=True,
                     text=True, timeout=60)
  assert p.returncode == 2 and p.stdout == '', p
  lines = p.stderr.splitlines()
  assert len(lines) == 1 and lines[0].startswith(f'error: {executable} cannot run jaxgen'), lines
  assert 'source .venv/bin/activate' in lines[0] and '.venv/bin/python -m launch' in lines[0]
