"""What the trainer costs on top of a bare training loop: the default experiment's steps/s.

    JAX_PLATFORMS=cpu .venv/bin/python -m benchmarks.trainer_overhead [--steps 2000 --repeats 5]

All loops train the same model (experiments/rectified_flow/toy2d.py: score MLP, batch 256) from
the same initial state:
  * jaxgen: `Run.train_step` fed by `Run.batch` (the deterministic host pipeline drawn between
    steps, the device mesh with a sharded batch, EMA, non-finite guard, per-step fold_in keys);
  * jaxgen_prefetch: the same step fed by `jaxgen.runtime.prefetch.device_batches` (the next
    batches drawn and put on the mesh by a background thread while the step runs), the loop
    `jaxgen.runtime.loop` runs with the one-line change this benchmark was written for;
  * jaxgen_step_only: the same step on batches already on the mesh (what is left when the data
    costs nothing: the EMA, the guard, the sharding);
  * data_alone: `Run.batch` for each step without training (the host time the prefetcher hides);
  * loop: the trainer itself, `jaxgen.runtime.loop.train` in a fresh workdir (prefetch, non-finite
    checks at each log, metrics.jsonl, the workdir lock): its time per step from the
    ``steps_per_sec`` it logs for its log windows after the first (no compile, no checkpoint: the
    only save comes after the last window), scaled to --steps;
  * bare: one `jax.jit` of value_and_grad + the same optax update, fed by pre-drawn numpy batches
    (no data pipeline, no EMA, no sharding annotations) — the loop a researcher would write first.
Each timing is the median of --repeats runs of --steps steps after a compile run, the loops
interleaved run by run so that load changes hit all of them; every loop ends with
`block_until_ready`. On a machine shared with other jobs the medians move with their load: the
ratio of each loop's fastest run (``*_over_bare_best``) and the ratios repeat by repeat (the loops
of one repeat ran back to back) show the spread. Prints one JSON line with the command, the
machine and every run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

import jax
import optax

from jaxgen.runtime import config as cfg
from jaxgen.runtime import loop
from jaxgen.runtime import overrides as overrides_lib
from jaxgen.runtime import parallel
from jaxgen.runtime import prefetch
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import state as state_lib


def machine() -> dict:
  """The machine a figure was measured on (CPU model, cores, load, jax)."""
  cpu = platform.processor()
  try:
    with open('/proc/cpuinfo') as f:
      cpu = next((l.split(':', 1)[1].strip() for l in f if l.startswith('model name')), cpu)
  except OSError:
    pass
  return {'cpu': cpu, 'cores': os.cpu_count(), 'load_avg_1m': os.getloadavg()[0],
          'devices': [d.device_kind for d in jax.devices()], 'backend': jax.default_backend(),
          'jax': jax.__version__, 'utc': time.strftime('%Y-%m-%d %H:%M', time.gmtime())}


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--steps', type=int, default=2000)
  parser.add_argument('--repeats', type=int, default=5)
  parser.add_argument('--depth', type=int, default=2, help='prefetch depth')
  args = parser.parse_args()

  config = cfg.validate(overrides_lib.apply(cfg.load('experiments/rectified_flow/toy2d.py'),
                                     {'train.steps': str(args.steps)}))
  trainer = state_lib.Trainer(run_lib.Run(config))
  model, tx = trainer.run.model, trainer.tx

  def bare_step(params, opt_state, batch, rng):
    (loss, _), grads = jax.value_and_grad(model.loss, has_aux=True)(params, batch, rng)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  bare_step = jax.jit(bare_step, donate_argnums=(0, 1))
  batches = [trainer.run.data.train_batch(s, config.train.batch_size) for s in range(args.steps)]

  def run_jaxgen():
    state = trainer.init()
    jax.block_until_ready(state)
    t = time.perf_counter()
    for s in range(args.steps):
      state, _ = trainer.train_step(state, trainer.run.batch(s))
    jax.block_until_ready(state)
    return time.perf_counter() - t

  def run_prefetch():
    state = trainer.init()
    jax.block_until_ready(state)
    t = time.perf_counter()
    for _, batch in prefetch.device_batches(trainer.run, 0, args.steps, depth=args.depth):
      state, _ = trainer.train_step(state, batch)
    jax.block_until_ready(state)
    return time.perf_counter() - t

  placed = [parallel.shard_batch(b, trainer.run.mesh) for b in batches]

  def run_step_only():
    state = trainer.init()
    jax.block_until_ready(state)
    t = time.perf_counter()
    for s in range(args.steps):
      state, _ = trainer.train_step(state, placed[s])
    jax.block_until_ready(state)
    return time.perf_counter() - t

  def run_bare():
    state = trainer.init()
    params, opt_state = jax.device_get((state.params, state.opt_state))
    params, opt_state = jax.device_put((params, opt_state))
    key = jax.random.PRNGKey(0)
    jax.block_until_ready(params)
    t = time.perf_counter()
    for s in range(args.steps):
      params, opt_state, _ = bare_step(params, opt_state, batches[s], jax.random.fold_in(key, s))
    jax.block_until_ready(params)
    return time.perf_counter() - t

  def run_data_alone():   # what prefetch takes off the loop: Run.batch (draw + put on the mesh)
    t = time.perf_counter()
    for s in range(args.steps):
      jax.block_until_ready(trainer.run.batch(s))
    return time.perf_counter() - t

  def run_loop():
    window = max(args.steps // 4, 1)
    c = cfg.validate(overrides_lib.apply(config, {
        'train.steps': str(window * 5), 'train.log_every': str(window),
        'train.checkpoint_every': str(10**9), 'train.progress': 'false',
        'eval.metrics': "('loss',)"}))
    with tempfile.TemporaryDirectory() as w:
      with open(os.devnull, 'w') as quiet:
        stdout, sys.stdout = sys.stdout, quiet
        try:
          loop.train(c, w)
        finally:
          sys.stdout = stdout
      with open(os.path.join(w, 'metrics.jsonl')) as f:
        rates = [json.loads(l)['steps_per_sec'] for l in f if 'steps_per_sec' in l][1:]
    return args.steps * statistics.mean(1 / r for r in rates)

  loops = {'loop': run_loop, 'jaxgen': run_jaxgen, 'jaxgen_prefetch': run_prefetch,
           'jaxgen_step_only': run_step_only, 'bare': run_bare, 'data_alone': run_data_alone}
  for f in loops.values():   # compile
    f()
  runs = {k: [] for k in loops}
  for _ in range(args.repeats):   # interleaved, so load changes hit all of them
    for k, f in loops.items():
      runs[k].append(f())
  med = {k: statistics.median(v) for k, v in runs.items()}
  out = {'command': ' '.join([os.path.basename(sys.executable), '-m', __spec__.name]
                             + sys.argv[1:]),
         'machine': machine(), 'devices': jax.device_count(), 'steps': args.steps,
         'batch': config.train.batch_size, 'repeats': args.repeats, 'depth': args.depth}
  for k in loops:
    out[f'{k}_steps_per_s'] = args.steps / med[k]
  out['data_alone_over_bare_per_repeat'] = [a / b for a, b in zip(runs['data_alone'], runs['bare'])]
  best = {k: min(v) for k, v in runs.items()}
  for k in ('loop', 'jaxgen', 'jaxgen_prefetch', 'jaxgen_step_only'):
    out[f'{k}_over_bare_time'] = med[k] / med['bare']
    # the least disturbed run of each loop (on a shared machine, the closest to an idle one)
    out[f'{k}_over_bare_best'] = best[k] / best['bare']
    # run by run (the loops of one repeat ran back to back): the spread of the ratio
    out[f'{k}_over_bare_per_repeat'] = [a / b for a, b in zip(runs[k], runs['bare'])]
  out['runs_s'] = runs
  print(json.dumps(out))


if __name__ == '__main__':
  main()
