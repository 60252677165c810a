"""What the checkpoint digest costs per save.

    python -m benchmarks.checkpoint_digest [--sizes default,35M] [--repeats 5]

For a train state of each size (params + EMA + Adam mu + nu, float32), saves it `repeats` times
with `jaxgen.store.checkpoint.Checkpointer` (async, as the trainer does) and reports medians
of: the blocking part of `save()` (including the host copy the digest reads), the whole save
(`save` + `wait`), the digest itself (SHA-256 over the host bytes, in Orbax's background save
thread) and the ratio digest / whole save. 'default' is the state of the default experiment
(rectified_flow/toy2d.py); '35M' a synthetic state of a ~35M-parameter U-Net (its leaf sizes
need not match a U-Net's: only the byte count matters to a hash).
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time

import jax
import jax.numpy as jnp

from jaxgen.store import checkpoint as ckpt_lib


def default_state():
  from jaxgen.runtime import config as cfg_lib
  from jaxgen.runtime import parallel
  from jaxgen.runtime import run as run_lib
  from jaxgen.runtime import state as state_lib
  config = cfg_lib.validate(cfg_lib.load('experiments/rectified_flow/toy2d.py'))
  return state_lib.Trainer(run_lib.Run(config, parallel.make_mesh(1))).init()


def synthetic_state(n_params: int, n_leaves: int = 200):
  """params, ema, mu, nu of `n_params` float32 each, split into `n_leaves` arrays."""
  per = n_params // n_leaves
  key = jax.random.key(0)
  tree = lambda scale: {f'w{i}': jax.random.normal(jax.random.fold_in(key, i), (per,)) * scale
                        for i in range(n_leaves)}
  return {'params': tree(1.0), 'ema': tree(1.0), 'mu': tree(1e-3), 'nu': tree(1e-6),
          'step': jnp.int32(0)}


def measure(state, repeats: int, root: str) -> dict:
  nbytes = sum(x.nbytes for x in jax.tree.leaves(state))
  n = sum(x.size for x in jax.tree.leaves(state))
  workdir = os.path.join(root, 'w')
  shutil.rmtree(workdir, ignore_errors=True)
  ck = ckpt_lib.Checkpointer(workdir, keep=2)
  blocking, total, digest = [], [], []
  for step in range(repeats + 1):  # the first save compiles/warms up and is not counted
    t0 = time.perf_counter()
    ck.save(step, state, '{}')
    t1 = time.perf_counter()
    ck.wait()
    t2 = time.perf_counter()
    if step:
      blocking.append(t1 - t0)
      total.append(t2 - t0)
      digest.append(ck.last_digest_seconds)
  ck.close()
  t0 = time.perf_counter()
  hosts = [jax.device_get(state) for _ in range(3)]
  host_copy = (time.perf_counter() - t0) / 3
  del hosts
  med = statistics.median
  return {'arrays': n, 'MB': nbytes / 1e6, 'blocking_s': med(blocking), 'save_s': med(total),
          'digest_s': med(digest), 'host_copy_s': host_copy,
          'ratio': med(digest) / med(total), 'GB/s': nbytes / med(digest) / 1e9}


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument('--sizes', default='default,35M')
  p.add_argument('--repeats', type=int, default=5)
  p.add_argument('--dir', default=None, help='where to write (default: a temporary folder)')
  a = p.parse_args()
  root = a.dir or tempfile.mkdtemp(prefix='ckpt_digest_')
  print(f'jax {jax.__version__} on {jax.devices()[0].platform} ({len(jax.devices())} devices), '
        f'{os.cpu_count()} CPUs, writing to {root}')
  try:
    for size in a.sizes.split(','):
      if size == 'default':
        state = default_state()
      else:
        state = synthetic_state(int(float(size.rstrip('M')) * 1e6))
      r = measure(state, a.repeats, root)
      print(f'{size:>8}: {r["arrays"]:,} numbers ({r["MB"]:.1f} MB); median of {a.repeats}: '
            f'save {r["save_s"]*1e3:.1f} ms (blocking {r["blocking_s"]*1e3:.1f} ms, host copy '
            f'{r["host_copy_s"]*1e3:.1f} ms), digest {r["digest_s"]*1e3:.1f} ms in the save '
            f'thread ({r["GB/s"]:.2f} GB/s) = {100*r["ratio"]:.1f}% of the save', flush=True)
      del state
  finally:
    if a.dir is None:
      shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
  main()
