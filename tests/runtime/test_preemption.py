"""Preemption: SIGTERM / SIGINT finish the step, save it, log it, print one line and exit with
128 + the signal (143 / 130); the next launch resumes bit-identically; the previous signal
handlers are back afterwards; several processes save the same step (JAX's preemption sync)."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from jaxgen.runtime import loop
from jaxgen.runtime import prefetch
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import state as state_lib
from jaxgen.store import checkpoint as ckpt_lib
from tests.conftest import EXP, ROOT, run_steps, tiny_config

# tiny_config's settings as flags, a run too long to finish, a log line every 5 steps and no
# regular checkpoint: the one saved is the preemption's.
FLAGS = ['--config.train.batch_size=32', '--config.optim.ema_rate=0.9',
         '--config.optim.warmup_steps=2', '--config.train.progress=false',
         '--config.train.steps=1000000', '--config.train.log_every=5',
         '--config.train.checkpoint_every=100000']
LINE = (r'Preempted \({name}\): saved the checkpoint of step (\d+) in (\S+)/checkpoints; run the '
        r'same command again to resume from it \(exit status {code}\)\.')


def _restore(workdir, config, step=None):
  run = run_lib.Run(config)
  c = ckpt_lib.Checkpointer(str(workdir))
  try:
    return jax.device_get(c.restore(state_lib.Trainer(run).abstract_state(), step))
  finally:
    c.close()


def _assert_same(a, b):
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
    np.testing.assert_array_equal(x, y)


def test_sigterm_in_process_saves_the_step_and_resume_is_bit_identical(tmp_path, monkeypatch):
  """SIGTERM arrives as the loop takes the batch of loop step 4: update 5 still runs, checkpoint 5
  (not a multiple of train.checkpoint_every=3) is saved, Preempted(143) carries step 5, the
  previous handlers are back; resuming to 6 equals 6 steps straight, bit for bit."""
  real = prefetch.device_batches

  def batches_and_signal(run, start, stop, *args, **kwargs):  # the loop takes them in its thread
    for step, batch in real(run, start, stop, *args, **kwargs):
      if step == 4:
        os.kill(os.getpid(), signal.SIGTERM)
      yield step, batch

  before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
  monkeypatch.setattr(prefetch, 'device_batches', batches_and_signal)
  with pytest.raises(loop.Preempted) as e:
    loop.train(tiny_config(), str(tmp_path))
  assert (e.value.step, e.value.code, e.value.signum) == (5, 143, signal.SIGTERM)
  assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
  lines = [json.loads(l) for l in open(tmp_path / 'metrics.jsonl')]
  assert [l['step'] for l in lines] == [3, 5]  # the steps since the last log line, flushed
  monkeypatch.setattr(prefetch, 'device_batches', real)
  resumed = loop.train(tiny_config(), str(tmp_path))
  _assert_same(jax.device_get(resumed), run_steps(tiny_config(), jax.device_count(), 6))
  lines = [json.loads(l) for l in open(tmp_path / 'metrics.jsonl') if '"loss"' in l]
  assert [l['step'] for l in lines] == [3, 5, 6]


def _env(devices):
  env = dict(os.environ, JAX_PLATFORMS='cpu', PYTHONPATH=ROOT,
             XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}')
  for k in ('JAX_COORDINATOR_ADDRESS', 'JAX_NUM_PROCESSES', 'JAX_PROCESS_ID'):
    env.pop(k, None)
  return env


def _wait_for_a_log_line(workdir, procs, timeout=180):
  t0 = time.time()
  path = os.path.join(workdir, 'metrics.jsonl')
  while not (os.path.exists(path) and os.path.getsize(path) > 0):
    assert time.time() - t0 < timeout, 'no log line'
    for p in procs:
      assert p.poll() is None, p.communicate()[0][-3000:]
    time.sleep(0.05)


@pytest.mark.parametrize('signum,devices', [
    (signal.SIGTERM, 1), pytest.param(signal.SIGTERM, 8, marks=pytest.mark.slow),
    pytest.param(signal.SIGINT, 8, marks=pytest.mark.slow)])
def test_a_signalled_launch_exits_with_its_status_and_resumes_bit_identically(
    tmp_path, signum, devices):
  """python -m launch.train gets the signal once it logged: it exits with 128 + signal, prints
  the one line (no traceback), keeps the checkpoint of the step it reached (S, logged once, the
  last line of metrics.jsonl); resuming to S + 3 equals S + 3 steps straight, bit for bit."""
  if devices > jax.device_count():
    pytest.skip(f'resumes in this process on {devices} devices (JAXGEN_TEST_DEVICES)')
  workdir = tmp_path / 'w'
  p = subprocess.Popen([sys.executable, '-m', 'launch.train', '--config', EXP, '--workdir',
                        str(workdir), *FLAGS], cwd=ROOT, env=_env(devices), text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
  try:
    _wait_for_a_log_line(workdir, [p])
    p.send_signal(signum)
    out = p.communicate(timeout=120)[0]
  finally:
    if p.poll() is None:
      p.kill()
  name = signal.Signals(signum).name
  assert p.returncode == 128 + signum, out[-3000:]
  assert 'Traceback' not in out, out
  m = re.search(LINE.format(name=name, code=128 + signum), out)
  assert m, out
  step = int(m.group(1))
  assert m.group(2) == str(workdir)
  lines = [json.loads(l) for l in open(workdir / 'metrics.jsonl')]
  steps = [l['step'] for l in lines]
  assert steps[-1] == step and len(set(steps)) == len(steps)

  config = tiny_config(**{'train.steps': str(step + 3), 'train.num_devices': str(devices),
                          'train.log_every': '5', 'train.checkpoint_every': '100000'})
  resumed = loop.train(config, str(workdir))
  _assert_same(jax.device_get(resumed), run_steps(config, devices, step + 3))
  steps = [json.loads(l)['step'] for l in open(workdir / 'metrics.jsonl') if '"loss"' in l]
  assert len(set(steps)) == len(steps) and steps[-1] == step + 3


def _free_port():
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_stop_at_the_same_step(tmp_path):
  """2 processes x 2 CPU devices; SIGTERM reaches process 1 only. JAX's preemption sync point
  makes both stop after the same step: both exit with 143, process 0 prints the line, the one
  checkpoint holds that step and restores."""
  workdir = tmp_path / 'w'
  addr = f'localhost:{_free_port()}'
  procs = []
  for i in range(2):
    env = dict(_env(2), JAX_COORDINATOR_ADDRESS=addr, JAX_NUM_PROCESSES='2',
               JAX_PROCESS_ID=str(i))
    procs.append(subprocess.Popen(
        [sys.executable, '-m', 'launch.train', '--config', EXP, '--workdir', str(workdir),
         *FLAGS], cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT))
  try:
    _wait_for_a_log_line(workdir, procs)
    procs[1].send_signal(signal.SIGTERM)
    outs = [p.communicate(timeout=120)[0] for p in procs]
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
  assert [p.returncode for p in procs] == [143, 143], '\n'.join(o[-3000:] for o in outs)
  m = re.search(LINE.format(name='SIGTERM', code=143), outs[0])
  assert m, outs[0]
  step = int(m.group(1))
  c = ckpt_lib.Checkpointer(str(workdir))
  try:
    assert c.all_steps() == [step]
  finally:
    c.close()
  state = _restore(workdir, tiny_config(**{'train.num_devices': '4'}))
  assert int(state.step) == step
