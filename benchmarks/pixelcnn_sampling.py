"""Sampling time of the PixelCNN family: cached fast sampler vs plain sampler, same run, same keys.

    JAX_PLATFORMS=cpu .venv/bin/python -m benchmarks.pixelcnn_sampling              # all three nets
    JAX_PLATFORMS=cpu .venv/bin/python -m benchmarks.pixelcnn_sampling --plain-rows 4  # plain: 4 rows
    JAX_PLATFORMS=cpu .venv/bin/python -m benchmarks.pixelcnn_sampling --nets gated --output categorical
    .venv/bin/python -m benchmarks.pixelcnn_sampling --batch 64 --filters 64 --blocks 7  # a GPU

Draws a batch of --batch 28x28x1 images, in one run, for each of --nets (default: PixelCNN, Gated
PixelCNN and PixelCNN++), from a randomly initialised net with
`jaxgen.models.pixelcnn.autoregressive.plain` (784 full-image network evaluations) and `.fast` (784
one-position steps on cached activations). Sizes: PixelCNN / Gated PixelCNN those of the
Fashion-MNIST experiments (2h = 32 / p = 14 filters, --blocks 5, Bernoulli outputs with K = 2 by
default, or --output categorical with K = 256); PixelCNN++ that of
experiments/pixelcnn/fashion_8bit.py:pp (32 filters, 1 resnet per stage, 3 scales 28/14/7, a
5-component discretized logistic mixture over K = 256; dropout is off when sampling).
Both samplers are jit-compiled (one lax.fori_loop each); each is timed --repeats times after a
compile/warm-up call (`block_until_ready`; the first call's time is reported separately), the two
interleaved run by run so that load on the shared CPU hits them alike; reported: the median seconds
of each, their ratio (the speed-up), and whether the samples are identical (they must be: same
keys). Every plain step costs the same full-network evaluation, so --plain-rows R > 0 times plain
on the first R rows only and scales its time by H / R (stated in the output as
plain_extrapolated); the identity check then compares those R rows. The 1-minute load average is
printed because the CPU is shared. Output: one JSON line per net, then a one-line summary each.
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

NETS = ('pixelcnn', 'gated', 'pixelcnn_pp')


def model_config(net: str, args):
  """(model config section, K) of the benchmarked size of `net` (module doc)."""
  mc = pixelcnn.defaults().model
  mc.net = net
  if net == 'pixelcnn_pp':                       # experiments/pixelcnn/fashion_8bit.py:pp
    mc.filters, mc.blocks, mc.scales, mc.dropout = args.filters or 32, 1, 3, 0.1
    mc.output, mc.num_mixtures = 'logistic_mixture', 5
    return mc, 256
  mc.output = args.output
  mc.filters = args.filters or (32 if net == 'pixelcnn' else 14)
  mc.blocks = args.blocks
  return mc, 2 if args.output == 'bernoulli' else 256


def bench(net_name: str, args) -> dict:
  mc, k = model_config(net_name, args)
  shape = (args.size, args.size, 1)
  net, output = pixelcnn.make_net(mc, 1, k)
  variables = net.init(jax.random.PRNGKey(0), jnp.zeros((1, *shape)))
  n = args.batch
  rows = args.plain_rows if 0 < args.plain_rows < args.size else None
  plain = jax.jit(lambda key: ar.plain(lambda x, l: net.apply(variables, x, l), output, shape,
                                       key, n, rows=rows))
  fast = jax.jit(lambda key: ar.fast(net, variables, output, shape, key, n))

  def timed(fn, key):
    t = time.perf_counter()
    x = jax.block_until_ready(fn(key))
    return time.perf_counter() - t, x

  load0 = os.getloadavg()[0]
  first = {'plain': timed(plain, jax.random.PRNGKey(1))[0],
           'fast': timed(fast, jax.random.PRNGKey(1))[0]}
  scale = args.size / rows if rows else 1.0
  times = {'plain': [], 'fast': []}
  same = True
  for r in range(args.repeats):
    key = jax.random.PRNGKey(100 + r)
    tp, xp = timed(plain, key)
    tf, xf = timed(fast, key)
    times['plain'].append(tp * scale)
    times['fast'].append(tf)
    cut = rows or args.size
    same &= bool(np.array_equal(np.asarray(xp)[:, :cut], np.asarray(xf)[:, :cut]))
  med = {m: statistics.median(v) for m, v in times.items()}
  return dict(
      bench='pixelcnn_sampling', backend=jax.default_backend(), device=str(jax.devices()[0]),
      net=net_name, output=output.kind, num_levels=k, filters=mc.filters, blocks=mc.blocks,
      scales=mc.scales if net_name == 'pixelcnn_pp' else None,
      params=sum(x.size for x in jax.tree.leaves(variables)), batch=n, shape=shape,
      repeats=args.repeats, plain_rows=rows or args.size, plain_extrapolated=bool(rows),
      plain_s=med['plain'], fast_s=med['fast'], speedup=med['plain'] / med['fast'],
      plain_runs=times['plain'], fast_runs=times['fast'],
      first_call_s=first, first_call_note='plain: its first call runs plain_rows rows',
      identical_samples=same, identical_rows=rows or args.size,
      load_before=load0, load_after=os.getloadavg()[0])


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument('--nets', default=','.join(NETS), help=f'comma-separated, of {NETS}')
  p.add_argument('--output', default='bernoulli', choices=['bernoulli', 'categorical'],
                 help='PixelCNN / Gated PixelCNN outputs (PixelCNN++: logistic mixture)')
  p.add_argument('--filters', type=int, default=0,
                 help="0: the experiments' size (32 / 14 / PixelCNN++ 32)")
  p.add_argument('--blocks', type=int, default=5, help='PixelCNN / Gated PixelCNN layers')
  p.add_argument('--batch', type=int, default=16)
  p.add_argument('--size', type=int, default=28)
  p.add_argument('--repeats', type=int, default=3)
  p.add_argument('--plain-rows', type=int, default=0,
                 help='> 0: time plain on that many rows and scale by size / rows')
  args = p.parse_args(argv)
  nets = [x for x in args.nets.split(',') if x]
  bad = [x for x in nets if x not in NETS]
  if bad:
    p.error(f'--nets: unknown {bad}; choose from {NETS}')
  results = []
  for name in nets:
    res = bench(name, args)
    print(json.dumps(res), flush=True)
    results.append(res)
  for r in results:
    note = f' (plain timed on {r["plain_rows"]} rows, scaled)' if r['plain_extrapolated'] else ''
    print(f"{r['net']} ({r['params']} params), batch {r['batch']} of {args.size}x{args.size}: "
          f"plain {r['plain_s']:.2f} s{note}, fast {r['fast_s']:.2f} s -> {r['speedup']:.1f}x; "
          f"first calls plain {r['first_call_s']['plain']:.1f} s, fast "
          f"{r['first_call_s']['fast']:.1f} s; identical samples: {r['identical_samples']}")


if __name__ == '__main__':
  main()
