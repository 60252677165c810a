"""Training throughput and test-set evaluation time of NICE (the paper's MNIST architecture).

    JAX_PLATFORMS=cpu .venv/bin/python -m benchmarks.nice_throughput            # paper arch, CPU
    .venv/bin/python -m benchmarks.nice_throughput --repeats 5 --batch 200      # any backend
    .venv/bin/python -m benchmarks.nice_throughput --smoke                      # tiny model, ~10 s

Measures, on whatever backend JAX picks (CPU here; a GPU/TPU run needs no change):
  * train: one jit-compiled Adam step (loss, grad, update; the paper's batch 200) on
    [batch, 28, 28, 1] synthetic data in [0, 1] -> examples/s, and the implied epoch time for
    60k images;
  * eval: exact log_prob over a 10,000-image "test set" in batches of --eval-batch -> seconds.
Each timing is the median of --repeats runs after one compile/warm-up run (each run = --steps train
steps, or one pass over the test set), with `block_until_ready`. The 1-minute load average before
and after is printed because the CPU is shared. Output: one JSON line plus a readable summary.
The model is the paper's: 4 additive couplings, 5 x 1000 ReLU layers, logistic prior, scaling.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxgen.data.source import DataSpec
from jaxgen.models import nice


def _spec(shape):
  return DataSpec(name='bench', shape=shape, low=0.0, high=1.0, num_levels=256, num_classes=None,
                  scale='unit', dequantized=True)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument('--batch', type=int, default=200)
  p.add_argument('--steps', type=int, default=5, help='train steps per timed run')
  p.add_argument('--repeats', type=int, default=5)
  p.add_argument('--eval-size', type=int, default=10000)
  p.add_argument('--eval-batch', type=int, default=1000)
  p.add_argument('--eval-repeats', type=int, default=3)
  p.add_argument('--smoke', action='store_true', help='tiny model (2 couplings, width 32)')
  args = p.parse_args(argv)

  config = nice.defaults()
  config.data = ml_collections.ConfigDict({'dequantize': True})
  if args.smoke:
    config.model.update(dict(num_couplings=2, hidden=32, depth=2))
    args.eval_size = min(args.eval_size, 2000)
  shape = (28, 28, 1)
  model = nice.build(config, _spec(shape))
  rng = jax.random.PRNGKey(0)
  x = jax.random.uniform(rng, (args.batch,) + shape)
  params = model.init(rng, x)
  n_params = sum(v.size for v in jax.tree_util.tree_leaves(params))
  tx = optax.adam(1e-3, b1=0.9, b2=0.99, eps=1e-4)
  opt_state = tx.init(params)

  @jax.jit
  def step(params, opt_state, x):
    (loss, _), g = jax.value_and_grad(model.loss, has_aux=True)(params, {'x': x}, None)
    updates, opt_state = tx.update(g, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  def run_train():
    nonlocal params, opt_state
    t0 = time.perf_counter()
    for _ in range(args.steps):
      params, opt_state, loss = step(params, opt_state, x)
    loss.block_until_ready()
    return time.perf_counter() - t0

  test = jax.random.uniform(jax.random.PRNGKey(1), (args.eval_size,) + shape)
  log_prob = jax.jit(lambda p, v: model.log_prob(p, {'x': v}, None))

  def run_eval():
    t0 = time.perf_counter()
    outs = [log_prob(params, test[i:i + args.eval_batch])
            for i in range(0, args.eval_size, args.eval_batch)]
    jnp.concatenate(outs).block_until_ready()
    return time.perf_counter() - t0

  load_before = os.getloadavg()[0]
  t0 = time.perf_counter()
  run_train()  # compile + warm-up
  compile_s = time.perf_counter() - t0
  train_times = [run_train() for _ in range(args.repeats)]
  run_eval()  # compile + warm-up
  eval_times = [run_eval() for _ in range(args.eval_repeats)]
  load_after = os.getloadavg()[0]

  step_s = statistics.median(train_times) / args.steps
  result = dict(
      backend=jax.default_backend(), device=str(jax.devices()[0]), num_devices=jax.device_count(),
      cpu_count=os.cpu_count(), params=int(n_params), batch=args.batch,
      step_s_median=step_s, examples_per_s=args.batch / step_s,
      step_s_all=[t / args.steps for t in train_times],
      epoch_60k_s=60000 / (args.batch / step_s), first_run_incl_compile_s=compile_s,
      eval_size=args.eval_size, eval_batch=args.eval_batch,
      eval_s_median=statistics.median(eval_times), eval_s_all=eval_times,
      loadavg_1m_before=load_before, loadavg_1m_after=load_after, smoke=args.smoke)
  print(json.dumps(result))
  print(f"NICE ({n_params / 1e6:.2f}M params) on {result['backend']}: train "
        f"{result['examples_per_s']:.0f} examples/s (batch {args.batch}, {step_s * 1e3:.0f} ms/step, "
        f"epoch of 60k ~ {result['epoch_60k_s'] / 60:.1f} min); eval of {args.eval_size} images "
        f"{result['eval_s_median']:.2f} s; load {load_before:.1f} -> {load_after:.1f}")


if __name__ == '__main__':
  main()
