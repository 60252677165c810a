"""One writer per workdir: a live holder refuses the next one (naming it), a dead one's lock is
taken over (once, however many start together), the lock goes on exit and on exceptions."""

import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from jaxgen.store import liveness
from jaxgen.store import lock

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _write_holder(workdir, **fields):
  record = {'host': socket.gethostname(), 'pid': os.getppid(), 'start': '2026-12-01T10:00:00',
            'command': 'launch.train', 'proc_start': liveness.proc_start(os.getppid()),
            'boot_id': liveness.boot_id(), 'token': 'x' * 32}
  record.update(fields)
  os.makedirs(workdir, exist_ok=True)
  text = json.dumps(record)
  with open(os.path.join(workdir, lock.LOCK), 'w') as f:
    f.write(text)
  return text


def _dead_pid() -> int:
  p = subprocess.Popen([sys.executable, '-c', 'pass'])
  p.wait()
  return p.pid


def test_the_lock_records_the_holder_and_goes_on_exit(tmp_path):
  w = str(tmp_path / 'new' / 'run')
  with lock.hold(w, 'launch.reflow', is_main=True):
    held = lock.holder(w)
    assert held['pid'] == os.getpid() and held['host'] == socket.gethostname()
    assert held['command'] == 'launch.reflow' and held['start']
    with lock.hold(w, 'inner', is_main=True):  # the same process re-enters
      assert lock.holder(w) == held
    assert lock.holder(w) == held
  assert not os.path.exists(tmp_path / 'new')  # created only for the lock: removed again


def test_a_live_holder_refuses_the_next_naming_it(tmp_path):
  w = str(tmp_path)
  text = _write_holder(w)  # the pytest runner's parent: alive, with its real start time
  with pytest.raises(lock.Locked, match=rf'in use by another run \(host {socket.gethostname()}, '
                     rf'pid {os.getppid()}, started 2026-12-01T10:00:00 \(launch.train\)\).*kill'):
    with lock.hold(w, 'launch.train', is_main=True):
      pytest.fail('entered a held workdir')
  assert open(os.path.join(w, lock.LOCK)).read() == text   # untouched


def test_another_hosts_lock_is_refused_with_the_file_to_delete(tmp_path):
  _write_holder(str(tmp_path), host='tpu-worker-7', pid=1)
  with pytest.raises(lock.Locked, match=r'host tpu-worker-7, pid 1.*another host.*delete .*lock.json'):
    with lock.hold(str(tmp_path), 'launch.train', is_main=True):
      pass


def test_an_unreadable_lock_is_refused_naming_it(tmp_path):
  (tmp_path / lock.LOCK).write_text('{"host": ')
  with pytest.raises(lock.Locked, match=r'lock.json exists but cannot be read.*delete'):
    with lock.hold(str(tmp_path), 'launch.train', is_main=True):
      pass


@pytest.mark.parametrize('stale', [
    dict(pid=None),                 # the process is gone
    dict(proc_start='1'),           # the pid now names a process that started later
    dict(boot_id='before-reboot')])  # written before a reboot
def test_a_dead_holders_lock_is_taken_over(tmp_path, capsys, stale):
  if stale.get('pid', 0) is None:
    stale['pid'] = _dead_pid()
  if 'boot_id' in stale and liveness.boot_id() is None:
    pytest.skip('no /proc boot id here')
  if 'proc_start' in stale and liveness.proc_start(os.getpid()) is None:
    pytest.skip('no /proc start times here')
  _write_holder(str(tmp_path), **stale)
  with lock.hold(str(tmp_path), 'launch.train', is_main=True):
    assert lock.holder(str(tmp_path))['pid'] == os.getpid()
  assert 'Took over the stale lock' in capsys.readouterr().out
  assert os.listdir(tmp_path) == []   # no guard or temporary file left


def test_the_lock_is_released_after_an_exception(tmp_path):
  with pytest.raises(RuntimeError):
    with lock.hold(str(tmp_path), 'launch.train', is_main=True):
      raise RuntimeError('boom')
  assert not (tmp_path / lock.LOCK).exists()
  with lock.hold(str(tmp_path), 'launch.train', is_main=True):
    pass


def test_other_processes_of_a_multi_process_run_do_not_lock(tmp_path):
  _write_holder(str(tmp_path))
  with lock.hold(str(tmp_path), 'launch.train', is_main=False):
    pass


def test_a_workdir_that_cannot_hold_a_lock_is_one_line(tmp_path, monkeypatch):
  f = tmp_path / 'file'
  f.write_text('x')
  with pytest.raises(lock.WorkdirError, match='is a file, not a folder'):
    with lock.hold(str(f), 'c', is_main=True):
      pass
  with pytest.raises(lock.WorkdirError, match=r'lies under .*file, which is a file'):
    with lock.hold(str(f / 'run'), 'c', is_main=True):
      pass

  def full(fd):
    raise OSError(28, 'No space left on device')

  monkeypatch.setattr(os, 'fsync', full)
  w = tmp_path / 'a' / 'run'
  with pytest.raises(lock.WorkdirError, match='no space left on the device'):
    with lock.hold(str(w), 'c', is_main=True):
      pass
  assert sorted(os.listdir(tmp_path)) == ['file']   # nothing left behind


# A process that takes the lock when the file `go` appears, says so, and holds it until `stop`.
_HOLDER = textwrap.dedent('''
    import os, sys, time
    from jaxgen.store import lock
    w, name = sys.argv[1], sys.argv[2]
    go, stop = (os.path.join(os.path.dirname(w), f) for f in ('go', 'stop'))
    while not os.path.exists(go):
      time.sleep(0.005)
    try:
      with lock.hold(w, name, is_main=True):
        print('held', os.getpid(), flush=True)
        while not os.path.exists(stop):
          time.sleep(0.01)
    except lock.Locked as e:
      print('refused', e, flush=True)
      sys.exit(2)
''')


def _start(w, name):
  env = dict(os.environ, PYTHONPATH=ROOT)
  return subprocess.Popen([sys.executable, '-c', _HOLDER, w, name], stdout=subprocess.PIPE,
                          text=True, env=env)


@pytest.mark.parametrize('stale', [False, True])
def test_processes_starting_together_get_one_holder(tmp_path, stale):
  """Three real processes race for one workdir (free, or with a dead run's lock): exactly one
  holds it, the others are refused naming that one's pid."""
  w = str(tmp_path / 'run')
  if stale:
    _write_holder(w, pid=_dead_pid())
  procs = [_start(w, f'p{i}') for i in range(3)]
  time.sleep(0.3)  # the interpreters start
  (tmp_path / 'go').write_text('')
  deadline = time.time() + 60
  lines = {}
  try:
    while len(lines) < 2 and time.time() < deadline:  # the refused ones exit at once
      for p in procs:
        if p not in lines and p.poll() is not None:
          lines[p] = p.stdout.read()
      time.sleep(0.02)
  finally:
    (tmp_path / 'stop').write_text('')
    for p in procs:
      out = p.communicate(timeout=60)[0]
      lines[p] = lines.get(p) or out
  holders = [p for p in procs if p.returncode == 0]
  assert len(holders) == 1, lines
  winner = [ln for ln in lines[holders[0]].splitlines() if ln.startswith('held ')][0].split()[1]
  assert ('Took over the stale lock' in lines[holders[0]]) == stale
  for p in procs:
    if p is not holders[0]:
      assert p.returncode == 2 and f'pid {winner},' in lines[p], lines[p]
  assert not os.path.exists(os.path.join(w, lock.LOCK))


def test_a_second_launch_on_a_training_workdir_is_refused_and_the_first_finishes(tmp_path):
  """Two real `launch.train` on one workdir: the second exits 2 at once naming the first's pid;
  the first finishes unharmed (its last checkpoint and each step once in metrics.jsonl)."""
  w = str(tmp_path / 'run')
  env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS='cpu')
  cmd = [sys.executable, '-m', 'launch.train', '--config',
         'experiments/rectified_flow/toy2d.py:smoke', '--workdir', w,
         '--config.train.steps=400', '--config.train.log_every=100',
         '--config.train.checkpoint_every=200', '--config.train.progress=false']
  first = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
  try:
    deadline = time.time() + 120
    while not os.path.exists(os.path.join(w, lock.LOCK)) and time.time() < deadline:
      assert first.poll() is None, first.stdout.read()
      time.sleep(0.05)
    second = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
  finally:
    out = first.communicate(timeout=300)[0]
  assert second.returncode == 2, second.stderr
  lines = second.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith('error: ') and f'pid {first.pid},' in lines[0]
  assert first.returncode == 0, out
  steps = [json.loads(ln)['step'] for ln in open(os.path.join(w, 'metrics.jsonl'))
           if 'loss' in json.loads(ln)]
  assert steps == [100, 200, 300, 400]
  assert '400' in os.listdir(os.path.join(w, 'checkpoints'))
  assert not os.path.exists(os.path.join(w, lock.LOCK))
