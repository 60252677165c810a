"""What the trainer costs on top of a bare training loop: the default experiment's steps/s.

    JAX_PLATFORMS=cpu .venv/bin/python -m benchmarks.trainer_overhead [--steps 2000 --repeats 5]

Both sides train the same model (experiments/rectified_flow/toy2d.py: score MLP, batch 256) from
the same initial state:
  * jaxgen: `Run.train_step` fed by `Run.batch` (the deterministic host pipeline, the
    device mesh with a sharded batch, EMA, non-finite guard, per-step fold_in keys);
  * bare: one `jax.jit` of value_and_grad + the same optax update, fed by pre-drawn numpy batches
    (no data pipeline, no EMA, no sharding annotations) — the loop a researcher would write first.
Each timing is the median of --repeats runs of --steps steps after a compile run; both loops end
with `block_until_ready`. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import jax
import optax

from jaxgen.runtime import config as cfg
from jaxgen.runtime import overrides as overrides_lib
from jaxgen.runtime import run as run_lib


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--steps', type=int, default=2000)
  parser.add_argument('--repeats', type=int, default=5)
  args = parser.parse_args()

  config = cfg.validate(overrides_lib.apply(cfg.load('experiments/rectified_flow/toy2d.py'),
                                     {'train.steps': str(args.steps)}))
  trainer = run_lib.Run(config)
  model, tx = trainer.model, trainer.tx

  def bare_step(params, opt_state, batch, rng):
    (loss, _), grads = jax.value_and_grad(model.loss, has_aux=True)(params, batch, rng)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  bare_step = jax.jit(bare_step, donate_argnums=(0, 1))
  batches = [trainer.data.train_batch(s, config.train.batch_size) for s in range(args.steps)]

  def run_jaxgen():
    state = trainer.init()
    jax.block_until_ready(state)
    t = time.perf_counter()
    for s in range(args.steps):
      state, _ = trainer.train_step(state, trainer.batch(s))
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

  run_jaxgen(), run_bare()   # compile
  tj, tb = [], []
  for _ in range(args.repeats):   # interleaved, so load changes hit both
    tj.append(run_jaxgen())
    tb.append(run_bare())
  j, b = statistics.median(tj), statistics.median(tb)
  print(json.dumps({'devices': jax.device_count(), 'backend': jax.default_backend(),
                    'steps': args.steps, 'batch': config.train.batch_size,
                    'jaxgen_steps_per_s': args.steps / j, 'bare_steps_per_s': args.steps / b,
                    'jaxgen_over_bare_time': j / b, 'jaxgen_runs_s': tj, 'bare_runs_s': tb}))


if __name__ == '__main__':
  main()
