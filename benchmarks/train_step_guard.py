"""What the EMA and the non-finite guard cost in the default experiment's train step.

    JAX_PLATFORMS=cpu .venv/bin/python -m benchmarks.train_step_guard [--repeats 5 --steps 500]

Four jitted steps of experiments/rectified_flow/toy2d.py (score MLP, batch 256) on batches
already on the mesh, interleaved run by run: no EMA and no guard (the bare step), EMA only, EMA +
the guard as an elementwise select over params, EMA and optimizer state (jaxgen's step before
2026-12-02), EMA + the guard as one `lax.cond` on the whole state with a finite update norm
(`jaxgen.runtime.state.make_train_step` now). Prints the median steps/s, the ratio to the bare
step and the ratios repeat by repeat.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import optax

from jaxgen.runtime import config as cfg
from jaxgen.runtime import parallel
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import state as state_lib
from jaxgen.runtime.state import TrainState


def make_step(run, guard, ema):
  model, tx = run.model, state_lib.Trainer(run).tx

  def step(state, batch):
    rng = jax.random.fold_in(state.rng, state.step)
    (loss, _), grads = jax.value_and_grad(model.loss, has_aux=True)(state.params, batch, rng)
    grad_norm = optax.global_norm(grads)
    updates, opt = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    e = (jax.tree.map(lambda a, p: 0.999 * a + 0.001 * p, state.ema_params, params) if ema
         else state.ema_params)
    new = TrainState(state.step + 1, params, e, opt, state.rng)
    old = TrainState(state.step + 1, state.params, state.ema_params, state.opt_state, state.rng)
    if guard == 'select':
      finite = [jnp.all(jnp.isfinite(p)) for p in jax.tree.leaves(params)]
      ok = jnp.isfinite(loss) & jnp.isfinite(grad_norm) & jnp.all(jnp.stack(finite))
      new = jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, old)
    elif guard == 'cond':
      ok = jnp.isfinite(loss) & jnp.isfinite(grad_norm) & jnp.isfinite(optax.global_norm(updates))
      new = jax.lax.cond(ok, lambda: new, lambda: old)
    return new, loss

  rep, bat = parallel.replicated(run.mesh), parallel.batch_sharding(run.mesh)
  return jax.jit(step, in_shardings=(rep, bat), out_shardings=(rep, rep), donate_argnums=0)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--steps', type=int, default=500)
  parser.add_argument('--repeats', type=int, default=5)
  args = parser.parse_args()
  run = run_lib.Run(cfg.validate(cfg.load('experiments/rectified_flow/toy2d.py')))
  steps = {'bare': make_step(run, None, False), 'ema': make_step(run, None, True),
           'ema_select_guard': make_step(run, 'select', True),
           'ema_cond_guard': make_step(run, 'cond', True)}
  batches = [run.batch(s) for s in range(args.steps)]

  def timed(f):
    state = state_lib.Trainer(run).init()
    jax.block_until_ready(state)
    t = time.perf_counter()
    for b in batches:
      state, _ = f(state, b)
    jax.block_until_ready(state)
    return time.perf_counter() - t

  for f in steps.values():  # compile
    timed(f)
  runs = {k: [] for k in steps}
  for _ in range(args.repeats):
    for k, f in steps.items():
      runs[k].append(timed(f))
  bare = statistics.median(runs['bare'])
  for k, v in runs.items():
    print(f'{k:18s} {args.steps / statistics.median(v):6.1f} steps/s  ratio '
          f'{statistics.median(v) / bare:.3f}  per repeat '
          f'{[round(a / b, 3) for a, b in zip(v, runs["bare"])]}')


if __name__ == '__main__':
  main()
