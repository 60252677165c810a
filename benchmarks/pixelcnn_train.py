"""Training throughput of the PixelCNN family (one jit-compiled Adam step on 28x28 images).

    JAX_PLATFORMS=cpu .venv/bin/python -m benchmarks.pixelcnn_train                   # ~2 min
    .venv/bin/python -m benchmarks.pixelcnn_train --batch 128 --nets pixelcnn,gated,pixelcnn_pp

For each net of --nets (default pixelcnn, gated, pixelcnn_pp at the Fashion-MNIST experiments'
sizes: PixelCNN 2h = 32, Gated p = 14, 5 layers; PixelCNN++ 32 filters, 1 resnet/stage, 3 scales),
on synthetic [--batch, 28, 28, 1] integer images (K = 2, Bernoulli; --levels 256 switches to the
256-way softmax / a 5-component logistic mixture): the model's loss, its gradient and an Adam
update in one `jax.jit` step with donated state. Each timing is the median of --repeats runs of
--steps steps after a compile/warm-up step (`block_until_ready`); reported: steps/s and images/s,
and the 1-minute load average (the CPU is shared). Output: one JSON line per net.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import jax
import jax.numpy as jnp
import optax

from jaxgen.data import DataSpec
from jaxgen.models import pixelcnn

SIZES = {'pixelcnn': dict(filters=32, blocks=5), 'gated': dict(filters=14, blocks=5),
         'pixelcnn_pp': dict(filters=32, blocks=1, scales=3)}


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument('--nets', default='pixelcnn,gated,pixelcnn_pp')
  p.add_argument('--batch', type=int, default=16)
  p.add_argument('--levels', type=int, default=2)
  p.add_argument('--steps', type=int, default=10)
  p.add_argument('--repeats', type=int, default=3)
  args = p.parse_args(argv)
  k = args.levels
  spec = DataSpec('bench', (28, 28, 1), 0.0, k - 1.0, k, None, 'levels')
  for name in args.nets.split(','):
    cfg = pixelcnn.defaults()
    cfg.model.net = name
    cfg.model.update(SIZES[name])
    cfg.model.num_mixtures = 5
    model = pixelcnn.build(cfg, spec)
    x = jax.random.randint(jax.random.PRNGKey(0), (args.batch, 28, 28, 1), 0, k).astype(jnp.float32)
    params = model.init(jax.random.PRNGKey(1), x)
    tx = optax.adam(1e-3)
    state = (params, tx.init(params))

    @jax.jit
    def step(state, batch, rng):
      params, opt = state
      (loss, _), g = jax.value_and_grad(model.loss, has_aux=True)(params, batch, rng)
      upd, opt = tx.update(g, opt, params)
      return (optax.apply_updates(params, upd), opt), loss

    batch = {'x': x}
    rng = jax.random.PRNGKey(2)
    load0 = os.getloadavg()[0]
    t = time.perf_counter()
    state, loss = step(state, batch, rng)
    jax.block_until_ready(loss)
    compile_s = time.perf_counter() - t
    runs = []
    for _ in range(args.repeats):
      t = time.perf_counter()
      for i in range(args.steps):
        state, loss = step(state, batch, jax.random.fold_in(rng, i))
      jax.block_until_ready(loss)
      runs.append(args.steps / (time.perf_counter() - t))
    sps = statistics.median(runs)
    n_params = sum(v.size for v in jax.tree.leaves(params))
    print(json.dumps(dict(bench='pixelcnn_train', backend=jax.default_backend(), net=name,
                          params=n_params, batch=args.batch, levels=k, steps_per_s=sps,
                          images_per_s=sps * args.batch, runs=runs, first_step_s=compile_s,
                          load_before=load0, load_after=os.getloadavg()[0])), flush=True)


if __name__ == '__main__':
  main()
