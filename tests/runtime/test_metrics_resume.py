"""Metrics that match the state: after a resume metrics.jsonl holds each step once, with the
values of the run that produced the restored state; averaging restarts at an unaligned step;
TensorBoard hides the events after the restored step (tensorboardX purge_step)."""

import glob
import json
import shutil
import struct

import jax
import numpy as np

from jaxgen.runtime import loop
from jaxgen.runtime import parallel
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import state as state_lib
from jaxgen.runtime import writer as writer_lib
from tests.conftest import tiny_config


def _lines(workdir):
  return [json.loads(l) for l in open(workdir / 'metrics.jsonl')]


def _per_step_losses(config, steps):
  trainer = state_lib.Trainer(run_lib.Run(config, parallel.make_mesh(0)))
  state, out = trainer.init(), []
  for s in range(steps):
    state, m = trainer.train_step(state, trainer.run.batch(s))
    out.append(jax.device_get(m))
  return out


def _session_starts(path):
  """Steps of the SessionLog START events (purge markers) in one TensorBoard events file."""
  from tensorboardX.proto import event_pb2

  steps = []
  with open(path, 'rb') as f:
    while header := f.read(12):
      (n,) = struct.unpack('<Q', header[:8])
      event = event_pb2.Event.FromString(f.read(n))
      f.read(4)
      if event.HasField('session_log') and event.session_log.status == event.session_log.START:
        steps.append(event.step)
  return steps


def test_a_resume_at_an_unaligned_step_logs_each_step_once(tmp_path):
  """A run logs at 5 and 10 and checkpoints at 7 and 10; checkpoint 10 is then lost (a kill after
  the log line of step 10, during its save) and a line is cut in half. The resume from 7 drops the
  lines after 7 and the cut one, logs step 10 once as the mean of steps 8..10, marked partial
  (``steps`` 3, where the uninterrupted line had 5), then 12 as 11..12 (a full final window), and
  TensorBoard gets a purge marker at step 8."""
  config = lambda steps: tiny_config(**{'train.steps': str(steps), 'train.log_every': '5',
                                        'train.checkpoint_every': '7'})
  loop.train(config(10), str(tmp_path))
  assert [l['step'] for l in _lines(tmp_path)] == [5, 10, 10]  # 10: the log and the evaluation
  first = _lines(tmp_path)[0]
  shutil.rmtree(tmp_path / 'checkpoints' / '10')
  with open(tmp_path / 'metrics.jsonl', 'a') as f:
    f.write('{"step": 11, "lo')

  loop.train(config(12), str(tmp_path))
  lines = _lines(tmp_path)
  train = [l for l in lines if 'loss' in l]
  assert [l['step'] for l in train] == [5, 10, 12]
  assert [l['step'] for l in lines if 'eval/loss' in l] == [12]
  assert train[0] == first  # the restored run's own line, untouched
  assert [(l['steps'], l.get('partial', 0)) for l in train] == [(5, 0), (3, 1), (2, 0)]
  per_step = _per_step_losses(config(12), 12)
  for line, window in ((train[1], per_step[7:10]), (train[2], per_step[10:12])):
    np.testing.assert_allclose(line['loss'], np.mean([m['loss'] for m in window]), rtol=1e-6)
  files = sorted(glob.glob(str(tmp_path / 'tb' / 'events.out.tfevents.*')))
  assert len(files) == 2 and _session_starts(files[1]) == [8]


def test_truncate_keeps_the_lines_up_to_the_step(tmp_path):
  """Lines of later steps and a cut line go; with drop_eval_at_step, so does the evaluation line
  of the step itself (the run evaluates again there), not its training line."""
  path = tmp_path / 'metrics.jsonl'
  rows = [{'step': 5, 'loss': 1.0}, {'step': 10, 'loss': 2.0}, {'step': 10, 'eval/loss': 3.0},
          {'step': 15, 'loss': 4.0}]
  path.write_text(''.join(json.dumps(r) + '\n' for r in rows) + '{"step": 20, "lo')
  assert writer_lib.truncate(str(path), 10) == 2
  assert [json.loads(l) for l in open(path)] == rows[:3]
  assert writer_lib.truncate(str(path), 10, drop_eval_at_step=True) == 1
  assert [json.loads(l) for l in open(path)] == rows[:2]
  assert writer_lib.truncate(str(path), 10) == 0
