"""launch/setup.sh: the pip commands per accelerator (dry run and against a stub venv whose python
records its argv), --system-jax, switching accelerators, and the accelerator pins agreeing with
requirements.txt's jax; a finished setup says how to activate the venv."""

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib

import jax
import jaxlib
import pytest

from tests.conftest import ROOT

SETUP = os.path.join(ROOT, 'launch', 'setup.sh')
Q = '-q --disable-pip-version-check'


def _pins(path):
  """{name: exact version} of a requirements file's `name[extras]==version` lines."""
  pins = {}
  for line in open(os.path.join(ROOT, path)):
    m = re.match(r'^([A-Za-z0-9_.-]+(?:\[[a-z0-9,-]+\])?)==(\S+)', line)
    if m:
      pins[m.group(1)] = m.group(2)
  return pins


def test_accelerator_pins_are_requirements_txt_jax():
  jax_pin = _pins('requirements.txt')['jax']
  assert _pins('requirements.txt')['jaxlib'] == jax_pin
  assert _pins('requirements-cuda12.txt') == {
      'jax[cuda12]': jax_pin, 'jax-cuda12-plugin[with-cuda]': jax_pin, 'jax-cuda12-pjrt': jax_pin}
  tpu = _pins('requirements-tpu.txt')
  assert tpu['jax[tpu]'] == jax_pin and set(tpu) == {'jax[tpu]', 'libtpu'}
  for name in ('requirements-cuda12.txt', 'requirements-tpu.txt'):
    assert '-r requirements.txt\n' in open(os.path.join(ROOT, name)).read()
  extras = tomllib.load(open(os.path.join(ROOT, 'pyproject.toml'), 'rb'))['project'][
      'optional-dependencies']
  assert extras['cuda12'] == [f'jax[cuda12]=={jax_pin}']
  assert extras['tpu'] == [f'jax[tpu]=={jax_pin}']


def _env(**extra):
  env = dict(os.environ, PYTHON=sys.executable, JAX_PLATFORMS='cpu', PYTHONPATH=ROOT, **extra)
  env.pop('XLA_FLAGS', None)
  return env


def _setup(*args, env=None):
  return subprocess.run(['bash', SETUP, *args], env=env or _env(), cwd=ROOT,
                        capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize('accelerator, requirements', [
    ('cpu', 'requirements.txt'), ('cuda12', 'requirements-cuda12.txt'),
    ('tpu', 'requirements-tpu.txt')])
def test_dry_run_prints_the_pip_commands_of_each_accelerator(tmp_path, accelerator, requirements):
  venv = str(tmp_path / 'venv')
  p = _setup('--dry-run', '--venv', venv, '--accelerator', accelerator)
  assert p.returncode == 0, p.stderr
  py = f'{venv}/bin/python'
  lines = p.stdout.splitlines()
  assert lines[0].startswith(f'# Using {sys.executable} (Python 3.')
  assert lines[1:5] == [
      f'{sys.executable} -m venv {venv}',
      f'{py} -m pip install {Q} --upgrade pip',
      f'{py} -m pip install {Q} -r {requirements}',
      f'{py} -m pip install {Q} --no-deps -e .']
  # Last, one command (over several lines): the device check through jaxgen.
  check = shlex.split('\n'.join(lines[5:]))
  assert check[:2] == [py, '-c'] and check[3:] == [accelerator]
  assert check[2].startswith('import sys, jax, jaxgen.runtime.run\n')
  assert not os.path.exists(venv)


def test_dry_run_system_jax_keeps_the_images_jax(tmp_path):
  venv = str(tmp_path / 'venv')
  p = _setup('--dry-run', '--system-jax', '--venv', venv)
  assert p.returncode == 0, p.stderr
  py = f'{venv}/bin/python'
  lines = p.stdout.splitlines()
  assert lines[1:7] == [
      f'{sys.executable} -m venv --system-site-packages {venv}',
      f'{py} -m pip install {Q} --upgrade pip',
      f'# Keeping the system\'s jax {jax.__version__} (jaxlib {jaxlib.__version__})',
      f"grep -viE '^(jax|jaxlib) *([=<>!~;[]|$)' requirements.txt > {venv}/requirements-system-jax.txt",
      f"printf 'jax==%s\\njaxlib==%s\\n' {jax.__version__} {jaxlib.__version__} > "
      f'{venv}/constraints-system-jax.txt',
      f'{py} -m pip install {Q} -r {venv}/requirements-system-jax.txt -c '
      f'{venv}/constraints-system-jax.txt']
  # The filter drops exactly the jax and jaxlib pins.
  kept = subprocess.run(['bash', '-c', "grep -viE '^(jax|jaxlib) *([=<>!~;[]|$)' requirements.txt"],
                        cwd=ROOT, capture_output=True, text=True).stdout
  original = open(os.path.join(ROOT, 'requirements.txt')).read().splitlines()
  assert sorted(set(original) - set(kept.splitlines())) == [
      l for l in sorted(original) if l.startswith(('jax==', 'jaxlib=='))]
  assert len(_pins('requirements.txt')) - 2 == len(
      [l for l in kept.splitlines() if '==' in l and not l.startswith('#')])


# A venv whose python records its argv: `-m pip` does nothing, the "is PKG installed" query is
# answered from STUB_INSTALLED, anything else (version checks, the device check) runs the real
# interpreter.
STUB = r'''#!{python}
import json, os, sys
with open(os.environ['STUB_LOG'], 'a') as f:
  f.write(json.dumps(sys.argv[1:]) + '\n')
if sys.argv[1] == '-c' and 'importlib.metadata' in sys.argv[2]:
  sys.exit(0 if sys.argv[3] in os.environ.get('STUB_INSTALLED', '').split(',') else 1)
if sys.argv[1:3] != ['-m', 'pip']:
  os.execv({python!r}, [{python!r}, *sys.argv[1:]])
'''


def _stub_venv(tmp_path):
  venv = tmp_path / 'venv'
  (venv / 'bin').mkdir(parents=True)
  (venv / 'pyvenv.cfg').write_text('include-system-site-packages = false\n')
  (venv / 'bin' / 'python').write_text(STUB.format(python=sys.executable))
  (venv / 'bin' / 'python').chmod(0o755)
  return str(venv)


def test_switching_accelerator_removes_the_other_plugins_and_prints_the_devices(tmp_path):
  venv, log = _stub_venv(tmp_path), str(tmp_path / 'log')
  env = _env(STUB_LOG=log, STUB_INSTALLED='jax-cuda12-plugin,jax-cuda12-pjrt')
  p = _setup('--venv', venv, '--accelerator', 'tpu', env=env)
  assert p.returncode == 0, p.stderr
  pip = [a[2:] for a in map(json.loads, open(log)) if a[:2] == ['-m', 'pip']]
  assert pip == [['install', '-q', '--disable-pip-version-check', '--upgrade', 'pip'],
                 ['uninstall', '-q', '--disable-pip-version-check', '-y', 'jax-cuda12-plugin',
                  'jax-cuda12-pjrt'],
                 ['install', '-q', '--disable-pip-version-check', '-r', 'requirements-tpu.txt'],
                 ['install', '-q', '--disable-pip-version-check', '--no-deps', '-e', '.']]
  assert f'jax {jax.__version__}: backend cpu, 1 devices' in p.stdout
  assert 'warning: --accelerator tpu but JAX runs on cpu' in p.stderr
  assert p.stdout.splitlines()[-2].startswith(f'Environment ready: Python 3.')
  assert p.stdout.splitlines()[-1].startswith(f'Activate it once per shell: source {venv}/bin/'
                                              'activate')
  # The CUDA plugins stay for cuda12; nothing is run in a dry run.
  os.remove(log)
  p = _setup('--dry-run', '--venv', venv, '--accelerator', 'cuda12', env=env)
  assert p.returncode == 0, p.stderr
  assert [l for l in p.stdout.splitlines() if ' pip ' in l] == [
      f'{venv}/bin/python -m pip install {Q} --upgrade pip',
      f'{venv}/bin/python -m pip install {Q} -r requirements-cuda12.txt',
      f'{venv}/bin/python -m pip install {Q} --no-deps -e .']
  assert not any(a[:2] == ['-m', 'pip'] for a in map(json.loads, open(log)))


@pytest.mark.parametrize('args, message', [
    (['--accelerator', 'gpu'], "--accelerator must be cpu, cuda12 or tpu, not 'gpu'"),
    (['--system-jax', '--accelerator', 'tpu'], '--system-jax keeps the image'),
    (['--cuda'], "unknown argument '--cuda'"),
])
def test_mistakes_are_one_error_line(args, message):
  p = _setup(*args)
  assert p.returncode == 2 and p.stdout == ''
  assert p.stderr.startswith('error: ') and message in p.stderr and p.stderr.count('\n') == 1


def test_test_sh_prints_durations_and_skip_reasons(tmp_path):
  """The README's second command shows the slowest tests and why each skipped test skipped."""
  (tmp_path / 'test_skips.py').write_text(
      'import pytest\n\n\ndef test_skipped():\n  pytest.skip("no such device here")\n')
  p = subprocess.run(['bash', os.path.join(ROOT, 'launch', 'test.sh'), '-n', '0',
                      str(tmp_path / 'test_skips.py')],
                     capture_output=True, text=True, timeout=300)
  assert 'slowest' in p.stdout and 'no such device here' in p.stdout, p.stdout[-2000:]


def test_the_tensorboard_viewer_is_an_optional_install():
  """Runs write TensorBoard events; the viewer is pinned apart (requirements-viz.txt, the `viz`
  extra) and the README says how to open the events."""
  assert 'tensorboard' in _pins('requirements-viz.txt')
  assert 'tensorboard' not in _pins('requirements.txt')
  with open(os.path.join(ROOT, 'pyproject.toml'), 'rb') as f:
    assert 'tensorboard' in tomllib.load(f)['project']['optional-dependencies']['viz']
  assert 'tensorboard --logdir' in open(os.path.join(ROOT, 'README.md')).read()
