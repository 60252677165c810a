"""The trainer's own overhead: `loop.train` against a bare loop doing the same maths.

    JAX_PLATFORMS=cpu .venv/bin/python -m benchmarks.trainer_overhead [--repeats 7] \
        [--experiments toy2d,digits]
    JAX_PLATFORMS=cpu .venv/bin/python -m benchmarks.trainer_overhead --quick   # fairness only

Experiments: ``toy2d``, the default experiment (experiments/rectified_flow/toy2d.py: score
MLP, batch 256), and ``digits``, the digits U-Net (experiments/rectified_flow/digits.py: DDPM++
nf 16, batch 64); both on one device (``train.num_devices=1``).

Both loops start from the trainer's initial state and do the same maths on the same data:
  * trainer: `jaxgen.runtime.loop.train` in a fresh workdir (prefetch, the non-finite guard and
    its checks, metrics.jsonl, the workdir lock, the throughput meter). Its time per step is
    taken from the ``steps_per_sec`` it logs for its log windows after the first (the first
    compiles; no checkpoint, evaluation or sample file falls inside a window);
  * bare: one `jax.jit` step of the loss gradient with the key ``fold_in(PRNGKey(seed), step)``,
    the run's optax optimizer and schedule and the EMA (``ema <- r ema + (1 - r) params``), fed
    by ``data.train_batch(step, batch)`` drawn on the host before each step; timed over the same
    windows after a first one that compiles.
`same_maths` checks the fairness: after the same steps both reach the same parameters and EMA
(``--quick``: the toy2d smoke config, a few steps, exit status 1 on a mismatch).

A repeat runs the trainer, then the bare loop (trainer, bare, trainer, bare, ...), so that load
changes hit both; the ratio of a repeat is the trainer's time per step over the bare loop's. The
report (one JSON line per experiment, then one summary line each) gives the median ratio, its
interquartile range and a bootstrap 95% interval of the median (2000 resamples of the repeats,
seed 0), every repeat's times, and the load (``uptime``) at the start and the end.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgen.runtime import config as cfg
from jaxgen.runtime import loop
from jaxgen.runtime import overrides as overrides_lib
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import state as state_lib

EXPERIMENTS = {  # name -> (experiment file, steps per log window)
    'toy2d': ('experiments/rectified_flow/toy2d.py', 250),
    'digits': ('experiments/rectified_flow/digits.py', 100),
}
WINDOWS = 5  # log windows per trainer run; the first compiles and is left out
QUICK = ('experiments/rectified_flow/toy2d.py:smoke', {'train.steps': '6', 'optim.ema_rate': '0.9',
                                                       'optim.warmup_steps': '2'})


def machine() -> dict:
  """The machine a figure was measured on (CPU model, cores, load, devices, jax)."""
  cpu = platform.processor()
  try:
    with open('/proc/cpuinfo') as f:
      cpu = next((l.split(':', 1)[1].strip() for l in f if l.startswith('model name')), cpu)
  except OSError:
    pass
  return {'cpu': cpu, 'cores': os.cpu_count(), 'load_avg_1m': os.getloadavg()[0],
          'devices': [d.device_kind for d in jax.devices()], 'backend': jax.default_backend(),
          'jax': jax.__version__, 'utc': time.strftime('%Y-%m-%d %H:%M', time.gmtime())}


def load() -> str:
  """``uptime``'s line (its load averages), or the load averages where there is no uptime."""
  try:
    return subprocess.run(['uptime'], capture_output=True, text=True, check=True).stdout.strip()
  except (OSError, subprocess.CalledProcessError):
    return 'load average: ' + ', '.join(f'{x:.2f}' for x in os.getloadavg())


def config_of(experiment: str, overrides: dict) -> cfg.ConfigDict:
  """The validated config of `experiment` with `overrides`, on one device, with no file the
  trainer writes inside its windows (checkpoints only at the end, no periodic evaluation or
  samples), a short final evaluation and few final samples (after the timed windows)."""
  over = {'train.num_devices': '1', 'train.progress': 'false', 'train.eval_every': '0',
          'train.sample_every': '0', 'eval.metrics': "('loss',)", 'eval.num_batches': '1',
          'sampling.num_samples': '16', **overrides}
  return cfg.validate(overrides_lib.apply(cfg.load(experiment), over))


class Bare:
  """The bare loop of `config`: the trainer's maths (gradient, optimizer, EMA) in one jitted
  step, from the trainer's initial state; refuses configs whose step does more (EMA warm-up,
  post-hoc EMA, a family's non-gradient update), which it does not repeat."""

  def __init__(self, config):
    o = config.optim
    if o.ema_warmup or tuple(o.posthoc_ema):
      raise ValueError('the bare loop does the plain EMA only: set optim.ema_warmup=False and '
                       'optim.posthoc_ema=()')
    self.config = config
    self.trainer = state_lib.Trainer(run_lib.Run(config))
    model, tx, rate = self.trainer.run.model, self.trainer.tx, float(o.ema_rate)
    if 'after_update' in model.extras:
      raise ValueError(f'{config.model.family} updates parameters outside the gradient step')
    key = jax.random.PRNGKey(config.seed)

    def step(params, ema, opt_state, batch, s):
      (loss, _), grads = jax.value_and_grad(model.loss, has_aux=True)(
          params, batch, jax.random.fold_in(key, s))
      updates, opt_state = tx.update(grads, opt_state, params)
      params = optax.apply_updates(params, updates)
      if rate:
        ema = jax.tree.map(lambda e, p: rate * e + (1 - rate) * p, ema, params)
      else:
        ema = params
      return params, ema, opt_state, loss

    self.step = jax.jit(step, donate_argnums=(0, 1, 2))

  def start(self):
    state = self.trainer.init()
    return jax.tree.map(jnp.copy, (state.params, state.ema_params, state.opt_state))

  def train(self, carry, first: int, last: int):
    """`carry` after the steps ``first .. last - 1``, waited for."""
    data, batch_size = self.trainer.run.data, self.config.train.batch_size
    params, ema, opt_state = carry
    for s in range(first, last):
      params, ema, opt_state, _ = self.step(params, ema, opt_state,
                                            data.train_batch(s, batch_size), np.int32(s))
    return jax.block_until_ready((params, ema, opt_state))


@contextlib.contextmanager
def _quiet():
  with contextlib.redirect_stdout(io.StringIO()):
    yield


def time_trainer(config) -> float:
  """Seconds per step of `loop.train` on `config` (``train.steps`` = WINDOWS log windows): the
  mean over its log windows after the first."""
  with tempfile.TemporaryDirectory() as w, _quiet():
    loop.train(config, w)
    with open(os.path.join(w, 'metrics.jsonl')) as f:
      rates = [json.loads(l)['steps_per_sec'] for l in f if '"steps_per_sec"' in l][1:]
  return statistics.mean(1 / r for r in rates)


def time_bare(bare: Bare, window: int) -> float:
  """Seconds per step of the bare loop over windows 2 .. WINDOWS (the first compiles)."""
  carry = bare.train(bare.start(), 0, window)
  t = time.perf_counter()
  bare.train(carry, window, WINDOWS * window)
  return (time.perf_counter() - t) / ((WINDOWS - 1) * window)


def same_maths(config):
  """``(trainer, bare)``: the final ``(params, ema_params)`` of `loop.train` and of the bare
  loop after ``train.steps`` steps of `config`, on the host."""
  with tempfile.TemporaryDirectory() as w, _quiet():
    state = loop.train(config, w)
  bare = Bare(config)
  params, ema, _ = bare.train(bare.start(), 0, int(config.train.steps))
  return jax.device_get((state.params, state.ema_params)), jax.device_get((params, ema))


def max_difference(a, b) -> float:
  """The largest difference of two pytrees, relative to each leaf's scale."""
  return max(float(np.abs(np.asarray(x) - np.asarray(y)).max() / (np.abs(x).max() + 1e-3))
             for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def summary(ratios: list[float], seed: int = 0, resamples: int = 2000) -> dict:
  """The median of `ratios`, its interquartile range and a bootstrap 95% interval of the median."""
  r = np.asarray(ratios, np.float64)
  rng = np.random.default_rng(seed)
  medians = np.median(rng.choice(r, (resamples, len(r))), axis=1)
  return {'median': float(np.median(r)), 'iqr': [float(np.percentile(r, 25)),
                                                 float(np.percentile(r, 75))],
          'median_95': [float(np.percentile(medians, 2.5)), float(np.percentile(medians, 97.5))]}


def measure(name: str, repeats: int) -> dict:
  path, window = EXPERIMENTS[name]
  config = config_of(path, {'train.steps': str(WINDOWS * window), 'train.log_every': str(window),
                            'train.checkpoint_every': str(10**9)})
  bare = Bare(config)
  runs = {'trainer': [], 'bare': []}
  for _ in range(repeats):   # interleaved: trainer, bare, trainer, bare, ...
    runs['trainer'].append(time_trainer(config))
    runs['bare'].append(time_bare(bare, window))
  ratios = [a / b for a, b in zip(runs['trainer'], runs['bare'])]
  return {'experiment': name, 'config': path, 'batch': int(config.train.batch_size),
          'timed_steps': (WINDOWS - 1) * window, 'repeats': repeats,
          'num_params': int(sum(np.size(x) for x in jax.tree.leaves(bare.start()[0]))),
          'trainer_ms_per_step': 1e3 * statistics.median(runs['trainer']),
          'bare_ms_per_step': 1e3 * statistics.median(runs['bare']),
          'ratio': summary(ratios), 'ratios': ratios,
          'seconds_per_step': runs}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--repeats', type=int, default=7)
  parser.add_argument('--experiments', default='toy2d,digits',
                      help=f'comma-separated, of {", ".join(EXPERIMENTS)}')
  parser.add_argument('--quick', action='store_true',
                      help='only check that both loops reach the same parameters and EMA')
  args = parser.parse_args(sys.argv[1:] if argv is None else argv)
  if args.quick:
    trainer, bare = same_maths(config_of(QUICK[0], QUICK[1]))
    diff = max_difference(trainer, bare)
    print(json.dumps({'quick': QUICK[0], 'steps': int(QUICK[1]['train.steps']),
                      'max_relative_difference': diff}))
    return 0 if diff < 1e-5 else 1
  names = args.experiments.split(',')
  unknown = [n for n in names if n not in EXPERIMENTS]
  if unknown:
    parser.error(f'--experiments: unknown {unknown}; known: {", ".join(EXPERIMENTS)}')
  command = ' '.join([os.path.basename(sys.executable), '-m', 'benchmarks.trainer_overhead']
                     + (sys.argv[1:] if argv is None else list(argv)))
  start, t0 = load(), time.perf_counter()
  results = [measure(n, args.repeats) for n in names]
  end = load()
  for r in results:
    print(json.dumps({'command': command, 'machine': machine(), 'load_start': start,
                      'load_end': end, 'wall_s': time.perf_counter() - t0, **r}))
  for r in results:
    s = r['ratio']
    print(f"{r['experiment']}: trainer / bare time per step, median {s['median']:.3f} "
          f"(IQR {s['iqr'][0]:.3f}-{s['iqr'][1]:.3f}, 95% interval of the median "
          f"{s['median_95'][0]:.3f}-{s['median_95'][1]:.3f}; {r['repeats']} repeats; "
          f"{r['trainer_ms_per_step']:.2f} vs {r['bare_ms_per_step']:.2f} ms)")
  print(f'load at start: {start}\nload at end:   {end}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
