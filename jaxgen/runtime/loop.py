"""The training loop: ``train(config, workdir)`` trains (or resumes) one run of any family.

It writes into `workdir`::

    config.json          the validated config of the run
    checkpoints/<step>/  Orbax checkpoints (state + config); running again resumes from the newest
    metrics.jsonl        one JSON object per log / evaluation (and tb/, TensorBoard events); a log
                         line is the mean over its ``steps``, ``partial`` where that is fewer
                         than an uninterrupted run's (after a resume between two log steps),
                         with its throughput (`jaxgen.runtime.throughput`: images_per_sec,
                         tflops_per_sec, mfu; null where unknown);
                         with data.validation, ``val/<metric>`` at each checkpoint step
                         (`jaxgen.runtime.validation`; its best checkpoint is always kept)
    samples/step_N.png   sample grids (and step_N.npz with the raw samples); none for a family
                         without a sampler (``Model.sample`` None: a classifier)
    init_from.json       with train.init_from: the source, step and params the run started from
    data.json            the data's fingerprint where it has one (a resume on other data is refused)
    lock.json            while the run lives: its host, pid and start time (one writer per workdir,
                         `jaxgen.store.lock`; a second launch is refused, a dead holder's taken over)

Determinism: the batch at step s is a pure function of (seed, s) and the step's randomness is
``fold_in(state.rng, s)``, so N steps, a restart and N more give the parameters of 2N steps
straight, and the result does not depend on the number of devices (up to float reduction order).
In a multi-process run every process computes; process 0 writes the files.

Nothing is written before the workdir checks and the restore have succeeded (a failed start
leaves the workdir as it was); ``checkpoints/`` appears with the first save. A resume restores the
newest checkpoint whose digest verifies (damaged newer ones are skipped with one line, never
deleted) and refuses one whose stored config differs from the run's outside the resume keys.

Preemption: SIGTERM (what SLURM and Cloud TPU send) or SIGINT (Ctrl-C) lets the current step
finish, saves a checkpoint of it (waiting for the save), logs the steps since the last log line,
prints one line and raises `Preempted` (a SystemExit with status 143 for SIGTERM, 130 for SIGINT:
128 + the signal, the shell's convention), after putting the previous signal handlers back; the
same command then resumes bit-identically. A second signal stops at once (as without this
handling; the previous checkpoint is intact). Several processes stop at the same step through
JAX's preemption sync point (`multihost_utils.reached_preemption_sync_point`, the service
`jax.distributed.initialize` starts: its own SIGTERM handler notices the signal and agrees on the
step with the other processes; SIGINT is passed on to it as a SIGTERM).

Non-finite steps: a step whose loss, gradient or new parameters are not finite is skipped (the
state stays as it was, `state.make_train_step`); the loop looks at the steps' ``nonfinite`` before
every save and every log, and stops with `TrainingDiverged` once more than
``train.skip_nonfinite`` (default 0) bad steps were seen in this launch, before saving anything
after them, so the checkpoints kept are all good ones.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

import jax
import numpy as np

from jaxgen.runtime import compile_options
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import evaluate as evaluate_lib
from jaxgen.runtime import posthoc as posthoc_lib
from jaxgen.runtime import prefetch
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import samples as samples_lib
from jaxgen.runtime import state as state_lib
from jaxgen.runtime import throughput
from jaxgen.runtime import validation as validation_lib
from jaxgen.runtime import workdir as workdir_lib
from jaxgen.runtime import writer as writer_lib
from jaxgen.store import checkpoint as ckpt_lib
from jaxgen.store import lock as lock_lib
from jaxgen.store import paths


class TrainingDiverged(RuntimeError):
  """Too many steps with a NaN/inf loss, gradient or parameters; nothing after them was saved."""


class Preempted(SystemExit):
  """The run stopped on SIGTERM or SIGINT after saving a checkpoint of `step`.

  A SystemExit whose status is ``128 + signal`` (143 for SIGTERM, 130 for SIGINT), so a command
  that lets it through exits with that status and no traceback; the one-line message was printed.
  """

  def __init__(self, step: int, signum: int, directory: str):
    super().__init__(128 + signum)
    self.step, self.signum, self.directory = step, signum, directory


class _Preemption:
  """Turns SIGTERM / SIGINT into a request to stop after the current step, while in a ``with``.

  One process: a Python handler sets a flag. Several processes: JAX's preemption service already
  catches SIGTERM and agrees with the other processes on the step to stop at
  (`multihost_utils.reached_preemption_sync_point`, to be called at every step); SIGINT is passed
  on to it as a SIGTERM. A second signal restores the previous handlers and signals again (the
  default: stop at once). On leaving, the previous handlers are put back.
  """

  def __init__(self, first_step: int):
    self.signum = None
    self._previous = {}
    self._sync = False
    if jax.process_count() > 1:
      from jax.experimental import multihost_utils
      try:
        multihost_utils.reached_preemption_sync_point(first_step)
        self._sync = True
      except RuntimeError:  # jax_enable_preemption_service is off
        print('preemption: JAX\'s preemption service is off (jax_enable_preemption_service), so '
              'several processes cannot agree on a step: SIGTERM / SIGINT stop this run without '
              'saving', file=sys.stderr, flush=True)
        self._signals = ()
        return
    self._signals = (signal.SIGINT,) if self._sync else (signal.SIGTERM, signal.SIGINT)

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for s in self._signals:
        self._previous[s] = signal.signal(s, self._handle)
    return self

  def __exit__(self, *exc):
    self._restore()

  def _restore(self):
    for s, handler in self._previous.items():
      signal.signal(s, handler)
    self._previous = {}

  def _handle(self, signum, frame):
    if self.signum is not None:  # the second signal: what it would have done without us
      previous = self._previous.get(signum, signal.SIG_DFL)
      self._restore()
      if callable(previous):
        previous(signum, frame)
      else:
        signal.raise_signal(signum)
      return
    self.signum = signum
    if self._sync:
      os.kill(os.getpid(), signal.SIGTERM)  # to JAX's preemption notifier

  def reached(self, step: int) -> bool:
    """Whether to stop after `step` (every process gets the same answer at the same step)."""
    if self._sync:
      from jax.experimental import multihost_utils
      return multihost_utils.reached_preemption_sync_point(step)
    return self.signum is not None

  @property
  def signal_name(self) -> str:
    return signal.Signals(self.signum or signal.SIGTERM).name


class _NonFinite:
  """Counts the skipped non-finite steps of this launch; raises TrainingDiverged past `allowed`."""

  def __init__(self, allowed: int, checkpoint_every: int):
    self.allowed, self.checkpoint_every = allowed, checkpoint_every
    self.bad: list[int] = []

  def check(self, host: list[dict], done: int, checkpointer, is_main: bool) -> None:
    """`host`: the metrics of the steps ``done - len(host) + 1 .. done`` (not yet checked)."""
    first = done - len(host) + 1
    new = [first + i for i, m in enumerate(host) if m['nonfinite'] > 0]
    if not new:
      return
    self.bad += new
    window = f'{len(new)} of the steps {first}..{done}' if len(host) > 1 else f'step {done}'
    if len(self.bad) <= self.allowed:
      if is_main:
        print(f'Skipped {len(new)} non-finite batch(es) at step(s) {_steps(new)} (their updates '
              f'were skipped; {len(self.bad)} of train.skip_nonfinite={self.allowed} used)',
              flush=True)
      return
    if checkpointer is not None:
      checkpointer.wait()
    last = checkpointer.latest_step() if checkpointer is not None else None
    if last is None:
      kept = ('No checkpoint was written (none was due yet: train.checkpoint_every='
              f'{self.checkpoint_every}), so a new launch starts from scratch.')
    else:
      kept = (f'The last good checkpoint is step {last} in {checkpointer.directory}; nothing '
              'after the bad step was saved.')
    skipped = f'; train.skip_nonfinite={self.allowed} allowed {self.allowed}' if self.allowed else ''
    raise TrainingDiverged(
        f'the loss, its gradient or the parameters became NaN/inf at step {new[0]} ({window} '
        f'since the last check were non-finite; their updates were skipped{skipped}). {kept} '
        'Running again repeats the same batches: train in a new --workdir with a lower optim.lr, a '
        'larger optim.warmup_steps or an optim.grad_clip, or resume with '
        'train.skip_nonfinite=N to skip up to N bad batches.')


def _steps(steps: list[int]) -> str:
  return ', '.join(map(str, steps[:5])) + (f' and {len(steps) - 5} more' if len(steps) > 5 else '')


def _summary(host: list[dict], done: int, log_every: int) -> dict:
  """The mean of each metric over the steps of `host` (those up to step `done`), over the finite
  ones where some are not (``nonfinite`` stays the fraction of bad steps); ``steps`` is their
  number, and ``partial`` = 1 marks a line that averages fewer steps than an uninterrupted run's
  line at `done` (the steps since the last multiple of `log_every`): the first line after a
  resume at a step that is not a multiple of it, whose earlier steps no process logged."""
  good = [m for m in host if m['nonfinite'] == 0] or host
  out = {k: float(np.mean([m[k] for m in good])) for k in host[0]}
  out['nonfinite'] = float(np.mean([m['nonfinite'] for m in host]))
  out['steps'] = len(host)
  if len(host) < done - (done - 1) // log_every * log_every:
    out['partial'] = 1
  return out


def _check_stored_config(checkpointer, step: int, config) -> None:
  """Refuses (naming the config keys, `workdir.check_checkpoint_config`) a `config` other than
  the one stored in checkpoint `step` of a workdir without config.json; a stored config that
  cannot be read is left to the restore, which skips that step as damaged."""
  try:
    stored = checkpointer.stored_config(step)
  except ckpt_lib.CheckpointError:
    return
  workdir_lib.check_checkpoint_config(stored, config, step, checkpointer.directory)


def train(config, workdir: str, mesh=None, teacher=None) -> state_lib.TrainState:
  """Trains (or resumes) the run described by a validated `config` in `workdir`.

  A fresh run with ``train.init_from`` starts from that run's parameters (`run.source_params`;
  recorded in ``workdir/init_from.json``); a run with its own checkpoint resumes from it and
  ignores ``train.init_from`` (which may then change, e.g. after the source moved). A run on data
  with a fingerprint (``pairs:``) records it and refuses to resume on other data. Everything is
  checked, and the checkpoint restored, before anything is written. With ``train.fast_compile``
  everything the run compiles is compiled with most XLA optimizations off (the global flag is
  restored afterwards). ``teacher``: a frozen network for the family's loss (`run_lib.Run`).
  Raises `Preempted` on SIGTERM / SIGINT (after saving the step) and
  `TrainingDiverged` on too many non-finite steps (see the module's docstring).
  """
  with lock_lib.hold(workdir, 'launch.train'), compile_options.fast_compile(
      config.train.fast_compile):
    return _train(config, workdir, mesh, teacher)


def _train(config, workdir: str, mesh, teacher=None) -> state_lib.TrainState:
  tc = config.train
  workdir_lib.check_resume(workdir, config)
  latest = workdir_lib.latest_step(workdir)
  resuming = latest is not None
  fresh_init = bool(tc.init_from) and not resuming
  if fresh_init:
    workdir_lib.check_init_from(tc.init_from, config)  # before anything is built or written
  is_main = jax.process_index() == 0
  run = run_lib.Run(config, mesh, teacher)
  trainer = state_lib.Trainer(run)
  draw = samples_lib.sampler(run.model, run.mesh)   # one jit cache for evaluation and samples
  evaluator = evaluate_lib.Evaluator(run, draw)     # unknown metrics are refused here
  validation = validation_lib.Tracker(run, draw)    # and validation metrics it cannot measure
  workdir_lib.check_data_fingerprint(workdir, run.data, resuming)
  record = None
  checkpointer = None  # created with the first save of a fresh run (no empty checkpoints/)
  try:
    if resuming:
      checkpointer = ckpt_lib.Checkpointer(workdir, keep=tc.keep_checkpoints)
      if not paths.exists(paths.join(workdir, workdir_lib.CONFIG)):  # else check_resume did it
        _check_stored_config(checkpointer, latest, config)
      state = checkpointer.restore(trainer.abstract_state())
      workdir_lib.check_checkpoint_config(checkpointer.restored_config, config,
                                          checkpointer.restored_step, checkpointer.directory)
    else:
      state = trainer.init()
      if fresh_init:
        start_params, record = run_lib.source_params(run, tc.init_from)
        state = state_lib.start_from(state, start_params)
    # Everything checked and restored: only now is anything written.
    start = int(state.step)
    if resuming:  # every process says so
      print(f'Resumed from step {start} in {checkpointer.directory}', flush=True)
    paths.makedirs(workdir)
    if is_main:  # atomically: the other processes of a multi-process run may be reading them
      workdir_lib.write_config(workdir, config)
      workdir_lib.write_data_fingerprint(workdir, run.data, resuming)
      if record is not None:
        workdir_lib.write_atomic(paths.join(workdir, workdir_lib.INIT_FROM),
                                 json.dumps(record, indent=2))
        print(f'Initialised params and EMA from the {record["params"]} of {tc.init_from} (step '
              f'{record["step"]}; its eval.use_ema decides which)', flush=True)
    # A family without a sampler (a classifier: Model.sample is None) writes no samples.
    has_sampler = run.model.sample is not None
    final_eval = start < tc.steps or (has_sampler
                                      and not samples_lib.finished(workdir, f'step_{start}'))
    writer = writer_lib.Writer(workdir, is_main, start, redo_eval=start >= tc.steps and final_eval)
    validation.resume(workdir, start)  # the best so far, from the truncated metrics.jsonl
  except BaseException:
    if checkpointer is not None:
      checkpointer.close()
    raise
  n_params = sum(x.size for x in jax.tree.leaves(state.params))
  if is_main:
    print(f'{config.model.family} on {config.data.name}: {n_params:,} parameters, '
          f'{run.mesh.devices.size} device(s), global batch {tc.batch_size}, '
          f'steps {start} -> {tc.steps}', flush=True)
  # The bar starts after the first step, which compiles: its rate and estimate leave that out.
  bar, want_bar = None, tc.progress and is_main and start < tc.steps
  if is_main and start < tc.steps:
    print('compiling the train step...', flush=True)

  def evaluate(state):
    run = trainer.show(state)
    return evaluator(run.params, run.eval_rng())

  def write_samples(state, step):
    return samples_lib.write(trainer.show(state), workdir, step, draw=draw)

  nonfinite = _NonFinite(int(tc.get('skip_nonfinite', 0)), tc.checkpoint_every)
  net = config.model.get(config.model.get('net', ''), {})   # its dtype: the basis of the MFU
  meter = throughput.Meter(tc.batch_size, net.get('dtype', 'float32'), run.mesh.devices.flat)
  pending: list = []   # metrics of the steps not yet fetched (device arrays)
  window: list[dict] = []   # fetched and checked, not yet logged
  t_last, step_last = time.perf_counter(), start
  snapshots = posthoc_lib.Snapshots(workdir, config)  # post-hoc EMA (optim.posthoc_ema)
  try:
    with _Preemption(start) as preemption:
      # The next batch is drawn and put on the devices while this step runs.
      for step, batch in prefetch.device_batches(run, start, tc.steps):
        if step == start:  # XLA's FLOPs of the step, compiled here once (the call reuses it)
          meter.measure(trainer.train_step, state, batch)
        state, metrics = trainer.train_step(state, batch)
        pending.append(metrics)
        done = step + 1
        if bar is not None:
          bar.update(1)
        elif want_bar:
          bar, want_bar = writer_lib.progress_bar(tc.steps, done), False
        stop = preemption.reached(done)
        log = done % tc.log_every == 0 or done == tc.steps or stop
        save = done % tc.checkpoint_every == 0 or done == tc.steps or stop
        snap = snapshots.due(done)
        if log or save or snap:  # check every step since the last check before a save or a log
          host = jax.device_get(pending)
          pending = []
          nonfinite.check(host, done, checkpointer, is_main)
          window += host
        if log:
          summary = _summary(window, done, tc.log_every)
          window = []
          now = time.perf_counter()
          summary['steps_per_sec'] = (done - step_last) / max(now - t_last, 1e-9)
          summary.update(meter.rates(summary['steps_per_sec']))
          t_last, step_last = now, done
          writer.write(done, summary)
          if bar is not None:
            bar.set_postfix(loss=f"{summary['loss']:.4g}", refresh=False)
        if snap:
          snapshots.save(done, state)
        if save:
          snapshots.wait()  # every snapshot up to `done` is committed before its checkpoint
          if validation.due(done):  # before saving: a checkpoint of this step has its value
            shown = trainer.show(state)
            writer.write(done, validation.measure(shown.params, shown.eval_rng(), done))
          if checkpointer is None:
            checkpointer = ckpt_lib.Checkpointer(workdir, keep=tc.keep_checkpoints)
          checkpointer.save(done, state, cfg_lib.to_json(config), force=done == tc.steps or stop,
                            best=validation.best_step)
        if stop:
          _stop(checkpointer, bar, preemption, done, is_main)
        if tc.eval_every and done % tc.eval_every == 0 and done != tc.steps:
          writer.write(done, evaluate(state))
        if has_sampler and tc.sample_every and done % tc.sample_every == 0 and done != tc.steps:
          write_samples(state, done)
      if bar is not None:
        bar.close()
        bar = None
      if preemption.signum is not None and start < tc.steps:  # during the last step's save
        _stop(checkpointer, bar, preemption, tc.steps, is_main)
      if final_eval:  # a signal now is noted; the run finishes (a second one stops it at once)
        results = evaluate(state)
        writer.write(int(state.step), results)
        if is_main:
          print('Evaluation: ' + ', '.join(f'{k}={v:.5g}' for k, v in results.items()),
                flush=True)
        if has_sampler:
          path = write_samples(state, int(state.step))
          if is_main:
            print(f'Samples: {path}', flush=True)
  finally:
    if bar is not None:
      bar.close()
    if checkpointer is not None:
      checkpointer.close()
    snapshots.close()
    writer.close()
  return state


def _stop(checkpointer, bar, preemption, step: int, is_main: bool):
  """Waits for the checkpoint of `step`, prints the line and raises Preempted."""
  checkpointer.wait()
  if bar is not None:
    bar.close()
  code = 128 + (preemption.signum or signal.SIGTERM)
  if is_main:
    print(f'Preempted ({preemption.signal_name}): saved the checkpoint of step {step} in '
          f'{checkpointer.directory}; run the same command again to resume from it '
          f'(exit status {code}).', flush=True)
  raise Preempted(step, preemption.signum or signal.SIGTERM, checkpointer.directory)
