"""launch.table as a user runs it: bad input is refused before JAX is imported, and a SIGTERM
sent to the build is handed to its running launch.train, which saves and unlocks its workdir
before the build exits with 143."""

import json
import os
import signal
import subprocess
import sys
import time

from jaxgen.store import lock
from tests import processes
from tests.conftest import ROOT

TABLE = '''
from jaxgen.tables.spec import Column, Row, RunSpec, Scale, Table


def get_table():
  run = RunSpec('experiments/rectified_flow/toy2d.py:smoke', {
      'train.steps': 100000, 'train.log_every': 2, 'train.checkpoint_every': 100000,
      'train.progress': False})
  return Table(name='long', title='Long', source='-', paper_setting='-',
               columns=(Column('loss', 'Loss'),), rows=(Row('r', 'a'),), metrics=('loss',),
               scales={'smoke': Scale('One long run.', {'a': run})})
'''


def _table(*argv):
  return [sys.executable, '-m', 'launch.table', *argv]


def test_a_missing_table_file_or_bad_weights_are_refused_before_importing_jax(tmp_path):
  code = ('import sys; from launch import table; rc = table.main(sys.argv[1:]); '
          "print('jax' in sys.modules); sys.exit(rc)")
  cases = [([str(tmp_path / 'none.py'), '--scale', 'smoke'], 'none.py'),
           (['experiments/tables/ddim_steps.py', '--scale', 'smoke', '--inception-weights',
             str(tmp_path)], '--inception-weights=')]
  for argv, named in cases:
    p = subprocess.run([sys.executable, '-c', code, *argv], cwd=ROOT, capture_output=True,
                       text=True, timeout=120, env=processes.env(1))
    assert p.returncode == 2 and p.stdout.strip() == 'False', p.stdout + p.stderr
    assert p.stderr.startswith('error: ') and p.stderr.count('\n') == 1 and named in p.stderr
  assert os.listdir(tmp_path) == []


def test_sigterm_to_the_build_stops_its_training_child_which_saves_and_unlocks(tmp_path):
  table = tmp_path / 'long.py'
  table.write_text(TABLE)
  runs = tmp_path / 'runs'
  work = runs / 'smoke' / 'a' / 'seed0'   # the run of training seed 0
  build = subprocess.Popen(_table(str(table), '--scale', 'smoke', '--runs', str(runs)),
                           cwd=ROOT, env=processes.env(1), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
  try:
    deadline = time.time() + 300
    metrics = work / 'metrics.jsonl'
    while not (metrics.exists() and metrics.read_text().count('\n') >= 2):   # steps are running
      assert build.poll() is None and time.time() < deadline, build.communicate()[0]
      time.sleep(0.5)
    holder = json.loads((work / lock.LOCK).read_text())['pid']
    build.send_signal(signal.SIGTERM)
    out = build.communicate(timeout=180)[0]
  finally:
    if build.poll() is None:
      build.kill()
  assert build.returncode == 143, out[-3000:]
  assert 'table: stopped by SIGTERM during train a seed 0' in out, out[-3000:]
  assert not (work / lock.LOCK).exists()                  # the rerun is not refused
  try:
    os.kill(holder, 0)
    alive = True
  except ProcessLookupError:
    alive = False
  assert not alive, 'launch.train outlived the build'
  assert os.listdir(work / 'checkpoints'), 'no checkpoint saved on SIGTERM'
