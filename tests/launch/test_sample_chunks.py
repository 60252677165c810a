"""``python -m launch.sample --num`` as real processes (slow): a SIGKILLed run resumes to the bytes
of an uninterrupted one, and 2 processes x 2 devices write the folder of 1 process x 4 devices
(every process draws every chunk sharded over all 4 devices; process 0 alone writes; a rerun keeps
the finished chunks after process 0's verdict is broadcast)."""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tests import processes

EXP = 'experiments/rectified_flow/toy2d.py:smoke'


def chunk_files(folder):
  return {f: open(os.path.join(folder, f), 'rb').read() for f in sorted(os.listdir(folder))
          if f.startswith('chunk_') or f in ('index.json', 'plan.json')}


@pytest.fixture(scope='module')
def source(tmp_path_factory):
  w = str(tmp_path_factory.mktemp('sample_chunks') / 'rf')
  processes.launch([sys.executable, '-m', 'launch.train', '--config', EXP, '--workdir', w,
              '--config.train.steps=4', '--config.train.progress=false'], 1, 4)
  return w


@pytest.mark.slow
def test_a_sigkilled_run_resumes_to_the_same_bytes(source):
  flags = ['--workdir', source, '--num', '16000', '--chunk', '8', '--config.sampling.steps=3']
  folder = os.path.join(source, 'samples', 'killed')
  proc = subprocess.Popen([sys.executable, '-m', 'launch.sample', '--name', 'killed'] + flags,
                          cwd=ROOT, env=processes.env(4), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  try:
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
      if os.path.isdir(folder) and len([f for f in os.listdir(folder)
                                        if f.startswith('chunk_') and f.endswith('.json')]) >= 3:
        break
      time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
  finally:
    proc.wait()
  assert not os.path.exists(os.path.join(folder, 'index.json')), 'finished before the kill'
  done = {f: os.path.getmtime(os.path.join(folder, f)) for f in os.listdir(folder)
          if f.startswith('chunk_') and f.endswith('.json')}
  out = processes.launch([sys.executable, '-m', 'launch.sample', '--name', 'killed'] + flags, 1, 4)[0]
  assert 'finished chunks kept' in out, out[-2000:]
  for f, t in done.items():
    assert os.path.getmtime(os.path.join(folder, f)) == t, f
  processes.launch([sys.executable, '-m', 'launch.sample', '--name', 'whole'] + flags, 1, 4)
  assert chunk_files(folder) == chunk_files(os.path.join(source, 'samples', 'whole'))


@pytest.mark.slow
def test_two_processes_write_the_folder_of_one(source):
  flags = ['--workdir', source, '--num', '20', '--chunk', '8', '--config.sampling.steps=3']
  cmd = [sys.executable, '-m', 'launch.sample']
  processes.launch(cmd + ['--name', 'one'] + flags, 1, 4)
  outs = processes.launch(cmd + ['--name', 'two'] + flags, 2, 2)
  assert 'Wrote' in outs[0] and 'Wrote' not in outs[1] and 'chunk' not in outs[1]
  one, two = (os.path.join(source, 'samples', n) for n in ('one', 'two'))
  assert chunk_files(one) == chunk_files(two)
  outs = processes.launch(cmd + ['--name', 'two'] + flags, 2, 2)   # finished: verified, nothing drawn
  assert '3 finished chunks kept' in outs[0] and '(0 made, 20 kept)' in outs[0]
  assert chunk_files(one) == chunk_files(two)
