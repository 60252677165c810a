"""Sampling time of the PixelCNN family: cached fast sampler vs plain sampler, same run, same keys.

    JAX_PLATFORMS=cpu .venv/bin/python -m benchmarks.pixelcnn_sampling                # ~3-5 min
    JAX_PLATFORMS=cpu .venv/bin/python -m benchmarks.pixelcnn_sampling --net gated --output categorical
    .venv/bin/python -m benchmarks.pixelcnn_sampling --batch 64 --filters 64 --blocks 7  # a GPU

Draws a batch of --batch 28x28x1 images (binary by default: K = 2 and Bernoulli outputs; or
--output categorical with K = 256) from a randomly initialised net (--net pixelcnn | gated,
--filters, --blocks; the Fashion-MNIST experiments' sizes by default) with
`jaxgen.models.pixelcnn.autoregressive.plain` (784 full-image network evaluations) and `.fast` (784
one-position steps on cached activations). Both are jit-compiled (one lax.fori_loop each); each
is timed --repeats times after a compile/warm-up call (`block_until_ready`), the two interleaved
run by run so that load on the shared CPU hits them alike; reported: the median seconds of each,
their ratio (the speed-up), and whether the samples are identical (they must be: same keys).
The 1-minute load average is printed because the CPU is shared. Output: one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.models import pixelcnn
from jaxgen.models.pixelcnn import autoregressive as ar


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument('--net', default='pixelcnn', choices=['pixelcnn', 'gated'])
  p.add_argument('--output', default='bernoulli', choices=['bernoulli', 'categorical'])
  p.add_argument('--filters', type=int, default=0, help='0: the experiments\' size (32 / 14)')
  p.add_argument('--blocks', type=int, default=5)
  p.add_argument('--batch', type=int, default=16)
  p.add_argument('--size', type=int, default=28)
  p.add_argument('--repeats', type=int, default=3)
  args = p.parse_args(argv)

  cfg = pixelcnn.defaults()
  cfg.model.net = args.net
  cfg.model.output = args.output
  cfg.model.filters = args.filters or (32 if args.net == 'pixelcnn' else 14)
  cfg.model.blocks = args.blocks
  k = 2 if args.output == 'bernoulli' else 256
  shape = (args.size, args.size, 1)
  net, output = pixelcnn.make_net(cfg.model, 1, k)
  variables = net.init(jax.random.PRNGKey(0), jnp.zeros((1, *shape)))
  n = args.batch
  plain = jax.jit(lambda key: ar.plain(lambda x, l: net.apply(variables, x, l), output, shape,
                                       key, n))
  fast = jax.jit(lambda key: ar.fast(net, variables, output, shape, key, n))

  def timed(fn, key):
    t = time.perf_counter()
    x = jax.block_until_ready(fn(key))
    return time.perf_counter() - t, x

  load0 = os.getloadavg()[0]
  compile_s = {'plain': timed(plain, jax.random.PRNGKey(1))[0],
               'fast': timed(fast, jax.random.PRNGKey(1))[0]}
  times = {'plain': [], 'fast': []}
  same = True
  for r in range(args.repeats):
    key = jax.random.PRNGKey(100 + r)
    tp, xp = timed(plain, key)
    tf, xf = timed(fast, key)
    times['plain'].append(tp)
    times['fast'].append(tf)
    same &= bool(np.array_equal(np.asarray(xp), np.asarray(xf)))
  med = {m: statistics.median(v) for m, v in times.items()}
  n_params = sum(x.size for x in jax.tree.leaves(variables))
  result = dict(
      bench='pixelcnn_sampling', backend=jax.default_backend(), device=str(jax.devices()[0]),
      net=args.net, output=args.output, filters=cfg.model.filters, blocks=args.blocks,
      params=n_params, batch=n, shape=shape, repeats=args.repeats,
      plain_s=med['plain'], fast_s=med['fast'], speedup=med['plain'] / med['fast'],
      plain_runs=times['plain'], fast_runs=times['fast'], first_call_s=compile_s,
      identical_samples=same, load_before=load0, load_after=os.getloadavg()[0])
  print(json.dumps(result))
  print(f"{args.net} ({n_params} params), batch {n} of {args.size}x{args.size}: plain "
        f"{med['plain']:.2f} s, fast {med['fast']:.2f} s -> {med['plain'] / med['fast']:.1f}x; "
        f"identical samples: {same}")


if __name__ == '__main__':
  main()
