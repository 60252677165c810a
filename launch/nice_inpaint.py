"""Inpaint test images with a trained NICE run and write the picture (PNG) and arrays (.npz).

    python -m launch.nice_inpaint --workdir runs/nice_fm [--masks bottom_half,random] [--num 8] \
        [--config.sampling.inpaint_steps=1000 --config.sampling.inpaint_noise=1.0 ...]

For each mask kind (jaxgen.models.nice.inpaint.image_masks: bottom_half, top_half, left_half, right_half,
center, odd_columns, random = 75% of the pixels hidden) it takes ``--num`` test images (the run's
eval split, dequantized, in [0, 1]), hides the masked pixels and fills them by projected gradient
ascent on NICE's exact log-likelihood (the paper's section 5.2; schedule from config.sampling:
a_i = inpaint_lr / (inpaint_lr_offset + i), Gaussian noise of std inpaint_noise, hidden pixels
started at U(0, 1) and clipped to [0, 1]).

Writes DIR/samples/inpaint_<step>.png: for each mask kind three rows -- the originals, the
observed pixels (hidden ones drawn mid-grey), the inpainting -- and DIR/samples/inpaint_<step>.npz
(original, mask, inpainted, log_prob trace). Prints the mean log-likelihood (nats per image) of the
originals, of the starting point and of the inpaintings per mask kind.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from launch._workdir import open_run


def _arguments(parser: argparse.ArgumentParser) -> None:
  parser.add_argument('--masks', default='', help='comma-separated mask kinds '
                      '(default: config.sampling.inpaint_mask,random)')
  parser.add_argument('--num', type=int, default=8, help='test images per mask kind')
  parser.add_argument('--keep', type=float, default=0.25, help="'random': fraction observed")
  parser.add_argument('--name', default='')


def main(argv=None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  args, trainer, state = open_run(argv, 'python -m launch.nice_inpaint', __doc__, _arguments)
  if trainer is None:
    return 2

  import jax
  import jax.numpy as jnp
  import numpy as np

  if jax.process_count() > 1:
    print('error: launch.nice_inpaint runs as one process (it inpaints a handful of images); '
          'unset JAX_COORDINATOR_ADDRESS / run it without the multi-process launcher',
          file=sys.stderr)
    return 2

  from jaxgen.models.nice import inpaint as inpaint_lib
  from jaxgen.runtime import viz
  config, model, spec = trainer.config, trainer.model, trainer.data.spec
  if 'inpaint' not in model.extras:
    print(f'error: family {config.model.family!r} has no inpainting', file=sys.stderr)
    return 2
  if len(spec.shape) != 3:
    print(f'error: inpainting needs image data, got shape {spec.shape}', file=sys.stderr)
    return 2
  kinds = [k for k in (args.masks or f'{config.sampling.inpaint_mask},random').split(',') if k]
  params = state.ema_params if config.eval.use_ema else state.params
  n = args.num
  x = np.asarray(trainer.data.eval_array(n), np.float32)
  key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 4242)
  masks = []
  for j, kind in enumerate(kinds):
    if kind == 'random':
      keys = jax.random.split(jax.random.fold_in(key, j), n)
      masks.append(np.stack([np.asarray(inpaint_lib.image_masks(spec.shape, kind, k, args.keep))
                             for k in keys]))
    else:
      masks.append(np.broadcast_to(np.asarray(inpaint_lib.image_masks(spec.shape, kind)),
                                   (n,) + tuple(spec.shape)))
  mask = np.concatenate(masks)
  xs = np.concatenate([x] * len(kinds))

  fill = jax.jit(lambda p, r, v, m: model.extras['inpaint'](p, r, v, m, config.sampling))
  log_prob = jax.jit(lambda p, v: model.log_prob(p, {'x': v}, None))
  t0 = time.perf_counter()
  out, info = fill(params, key, jnp.asarray(xs), jnp.asarray(mask))
  out = np.asarray(out)
  lp = np.asarray(info['log_prob'])
  lp_orig = np.asarray(log_prob(params, jnp.asarray(xs)))
  elapsed = time.perf_counter() - t0
  s = config.sampling
  print(f'inpainting: {s.inpaint_steps} steps, a_i = {s.inpaint_lr}/({s.inpaint_lr_offset} + i), '
        f'noise {s.inpaint_noise}, {len(xs)} images in {elapsed:.1f}s incl. compilation')
  for j, kind in enumerate(kinds):
    sl = slice(j * n, (j + 1) * n)
    print(f'  {kind:12s} hidden {1 - mask[sl].mean():.0%}: log p (nats/image) original '
          f'{lp_orig[sl].mean():9.1f}  start {lp[0, sl].mean():9.1f}  inpainted '
          f'{lp[-1, sl].mean():9.1f}')

  mid = 0.5 * (spec.low + spec.high)
  rows = []
  for j in range(len(kinds)):
    sl = slice(j * n, (j + 1) * n)
    rows += [xs[sl], np.where(mask[sl], xs[sl], mid), out[sl]]
  grid = viz.image_grid(viz.to_uint8(np.concatenate(rows), spec), ncol=n)
  step = int(state.step)
  name = args.name or f'inpaint_{step}'
  out_dir = os.path.join(args.workdir, 'samples')
  os.makedirs(out_dir, exist_ok=True)
  png = os.path.join(out_dir, name + '.png')
  viz.write_png(png, grid[..., 0] if grid.shape[-1] == 1 else grid, scale=4)
  np.savez(os.path.join(out_dir, name + '.npz'), original=xs, mask=mask, inpainted=out,
           log_prob=lp, log_prob_original=lp_orig, kinds=np.array(kinds))
  print(f'{png} (rows per mask kind {kinds}: original / observed / inpainted)')
  return 0


if __name__ == '__main__':
  sys.exit(main())
