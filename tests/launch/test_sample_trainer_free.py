"""A sampling command opens the trained model, not the trainer: ``launch.sample`` (in a fresh
process) imports no trainer module (loop, state, optim) and asks the checkpointer for the step,
the evaluation parameters and the key only, read as a partial restore (no optimizer state); and
the launch/cli modules themselves import no JAX or Orbax before a command parses its flags."""

import json
import subprocess
import sys

import pytest

from jaxgen.runtime import loop
from tests import processes
from tests.conftest import ROOT, tiny_config

TRAINER = ('jaxgen.runtime.loop', 'jaxgen.runtime.state', 'jaxgen.runtime.optim')

PROBE = '''
import json, sys
from jaxgen.store import checkpoint as ckpt_lib
asked = []
restore = ckpt_lib.Checkpointer.restore
def spy(self, target, step=None, **kw):
  asked.append({'leaves': sorted(target) if isinstance(target, dict) else type(target).__name__,
                'partial': kw.get('partial', False)})
  return restore(self, target, step, **kw)
ckpt_lib.Checkpointer.restore = spy
from launch import sample
code = sample.main(['--workdir', sys.argv[1], '--name', 'probe'])
print(json.dumps({'code': code, 'asked': asked,
                  'trainer': [m for m in %r if m in sys.modules]}))
''' % (TRAINER,)


@pytest.fixture(scope='module')
def workdir(tmp_path_factory):
  w = str(tmp_path_factory.mktemp('trainer_free') / 'rf')
  loop.train(tiny_config(**{'train.steps': '2', 'eval.metrics': "('loss',)"}), w)
  return w


def _python(code: str, *args: str) -> str:
  out = subprocess.run([sys.executable, '-c', code, *args], cwd=ROOT, env=processes.env(1),
                       capture_output=True, text=True, timeout=processes.TIMEOUT)
  assert out.returncode == 0, out.stderr[-2000:]
  return out.stdout.strip().splitlines()[-1]


def test_launch_sample_restores_only_the_eval_params_and_imports_no_trainer(workdir):
  got = json.loads(_python(PROBE, workdir))
  assert got['code'] == 0
  assert got['asked'] == [{'leaves': ['ema_params', 'rng', 'step'], 'partial': True}]
  assert got['trainer'] == []


def test_the_command_modules_import_no_jax_or_orbax():
  """Importing launch.sample, launch.evaluate, launch.train and jaxgen.runtime.cli loads neither
  JAX nor Orbax (the commands import them after parsing their flags)."""
  code = ('import sys; import launch.sample, launch.evaluate, launch.train, jaxgen.runtime.cli; '
          "print([m for m in ('jax', 'orbax.checkpoint', 'optax') if m in sys.modules])")
  assert _python(code) == '[]'
