"""The training loop: ``train(config, workdir)`` trains (or resumes) one run of any family.

It writes into `workdir`::

    config.json          the validated config of the run
    checkpoints/<step>/  Orbax checkpoints (state + config); running again resumes from the newest
    metrics.jsonl        one JSON object per log / evaluation (and tb/, TensorBoard events)
    samples/step_N.png   sample grids (and step_N.npz with the raw samples)
    init_from.json       with train.init_from: the source, step and params the run started from
    data.json            the data's fingerprint where it has one (a resume on other data is refused)

Determinism: the batch at step s is a pure function of (seed, s) and the step's randomness is
``fold_in(state.rng, s)``, so N steps, a restart and N more give the parameters of 2N steps
straight, and the result does not depend on the number of devices (up to float reduction order).
In a multi-process run every process computes; process 0 writes the files.
"""

from __future__ import annotations

import json
import os
import time

import jax
import numpy as np

from jaxgen.runtime import checkpoint as ckpt_lib
from jaxgen.runtime import compile_options
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import evaluate as evaluate_lib
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import samples as samples_lib
from jaxgen.runtime import state as state_lib
from jaxgen.runtime import workdir as workdir_lib
from jaxgen.runtime import writer as writer_lib


class TrainingDiverged(RuntimeError):
  """The loss or the gradients became NaN/inf."""


def train(config, workdir: str, mesh=None) -> state_lib.TrainState:
  """Trains (or resumes) the run described by a validated `config` in `workdir`.

  A fresh run with ``train.init_from`` starts from that run's parameters (`run.init_params`;
  recorded in ``workdir/init_from.json``); a run with its own checkpoint resumes from it and
  ignores ``train.init_from`` (which may then change, e.g. after the source moved). A run on data
  with a fingerprint (``pairs:``) records it and refuses to resume on other data. Everything is
  checked before anything is written. With ``train.fast_compile`` everything the run compiles is
  compiled with most XLA optimizations off (the global flag is restored afterwards).
  """
  with compile_options.fast_compile(config.train.fast_compile):
    return _train(config, workdir, mesh)


def _train(config, workdir: str, mesh) -> state_lib.TrainState:
  tc = config.train
  workdir_lib.check_resume(workdir, config)
  latest = workdir_lib.latest_step(workdir)
  fresh_init = bool(tc.init_from) and latest is None
  if fresh_init:
    workdir_lib.check_init_from(tc.init_from, config)  # before anything is built or written
  is_main = jax.process_index() == 0
  run = run_lib.Run(config, mesh)
  draw = samples_lib.sampler(run.model, run.mesh)   # one jit cache for evaluation and samples
  evaluator = evaluate_lib.Evaluator(run, draw)     # unknown metrics are refused here
  workdir_lib.check_data_fingerprint(workdir, run.data, latest is not None)
  start_params = record = None
  if fresh_init:
    start_params, record = run_lib.init_params(run, tc.init_from)
  os.makedirs(workdir, exist_ok=True)
  if is_main:  # atomically: the other processes of a multi-process run may be reading them
    workdir_lib.write_config(workdir, config)
    workdir_lib.write_data_fingerprint(workdir, run.data, latest is not None)
  checkpointer = ckpt_lib.Checkpointer(workdir, keep=tc.keep_checkpoints)
  if checkpointer.latest_step() is not None:
    state = checkpointer.restore(run.abstract_state())
    print(f'Resumed from step {int(state.step)} in {checkpointer.directory}', flush=True)
  else:
    state = run.init()
    if start_params is not None:
      state = state_lib.start_from(state, start_params)
      if is_main:
        with open(os.path.join(workdir, workdir_lib.INIT_FROM), 'w') as f:
          json.dump(record, f, indent=2)
        print(f'Initialised params and EMA from the {record["params"]} of {tc.init_from} (step '
              f'{record["step"]}; its eval.use_ema decides which)', flush=True)
  writer = writer_lib.Writer(workdir, is_main)
  start = int(state.step)
  n_params = sum(x.size for x in jax.tree.leaves(state.params))
  if is_main:
    print(f'{config.model.family} on {config.data.name}: {n_params:,} parameters, '
          f'{run.mesh.devices.size} device(s), global batch {tc.batch_size}, '
          f'steps {start} -> {tc.steps}', flush=True)
  bar = None
  if tc.progress and is_main and start < tc.steps:
    bar = writer_lib.progress_bar(tc.steps, start)

  def evaluate(state):
    run.state = state
    return evaluator(run.params, run.eval_rng())

  def write_samples(state, step):
    run.state = state
    return samples_lib.write(run, workdir, step, draw=draw)

  pending: list[dict] = []
  t_last, step_last = time.perf_counter(), start
  last_ckpt = checkpointer.latest_step()
  try:
    for step in range(start, tc.steps):
      state, metrics = run.train_step(state, run.batch(step))
      pending.append(metrics)
      done = step + 1
      if bar is not None:
        bar.update(1)
      if done % tc.log_every == 0 or done == tc.steps:
        host = jax.device_get(pending)
        pending = []
        summary = {k: float(np.mean([m[k] for m in host])) for k in host[0]}
        if summary['nonfinite'] > 0:
          raise TrainingDiverged(
              f'the loss or its gradient became NaN/inf between steps {done - len(host)} and '
              f'{done} (those updates were skipped). The last checkpoint (step {last_ckpt}) in '
              f'{checkpointer.directory} is intact. Lower optim.lr, raise optim.warmup_steps '
              'or set optim.grad_clip, then run again.')
        now = time.perf_counter()
        summary['steps_per_sec'] = (done - step_last) / max(now - t_last, 1e-9)
        t_last, step_last = now, done
        writer.write(done, summary)
        if bar is not None:
          bar.set_postfix(loss=f"{summary['loss']:.4g}", refresh=False)
      if done % tc.checkpoint_every == 0 or done == tc.steps:
        checkpointer.save(done, state, cfg_lib.to_json(config), force=done == tc.steps)
        last_ckpt = done
      if tc.eval_every and done % tc.eval_every == 0 and done != tc.steps:
        writer.write(done, evaluate(state))
      if tc.sample_every and done % tc.sample_every == 0 and done != tc.steps:
        write_samples(state, done)
    if bar is not None:
      bar.close()
      bar = None
    if start < tc.steps or not os.path.exists(os.path.join(workdir, 'samples')):
      results = evaluate(state)
      writer.write(int(state.step), results)
      if is_main:
        print('Evaluation: ' + ', '.join(f'{k}={v:.5g}' for k, v in results.items()), flush=True)
      path = write_samples(state, int(state.step))
      if is_main:
        print(f'Samples: {path}', flush=True)
  finally:
    if bar is not None:
      bar.close()
    checkpointer.close()
    writer.close()
  return state
