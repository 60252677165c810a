"""Inpainting test images with a trained NICE run (the paper's section 5.2), written as a picture.

For each mask kind (`jaxgen.models.nice.inpaint.image_masks`) ``num`` test images (the run's eval
split, in the data space of ``batch['x']``) have their masked pixels hidden and filled by the
family's ``inpaint`` extra (projected gradient ascent on the exact log-likelihood, schedule from
config.sampling). Writes samples/<name>.png (per mask kind three rows: originals, observed
pixels with the hidden ones mid-grey, inpaintings) and .npz (original, mask, inpainted, the
log_prob trace in nats per image, log_prob_original, kinds).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.models.nice import inpaint as inpaint_lib
from jaxgen.runtime import paths
from jaxgen.runtime import viz
from jaxgen.runtime.cli import Failure


def _masks(shape, kinds, n: int, keep: float, key) -> np.ndarray:
  """[len(kinds) * n, *shape] boolean masks (True = observed); 'random' draws one per image."""
  masks = []
  for j, kind in enumerate(kinds):
    if kind == 'random':
      keys = jax.random.split(jax.random.fold_in(key, j), n)
      masks.append(np.stack([np.asarray(inpaint_lib.image_masks(shape, kind, k, keep))
                             for k in keys]))
    else:
      masks.append(np.broadcast_to(np.asarray(inpaint_lib.image_masks(shape, kind)),
                                   (n,) + tuple(shape)))
  return np.concatenate(masks)


def inpaint(run, workdir: str, kinds=(), num: int = 8, keep: float = 0.25, name: str = '') -> str:
  """Inpaints and writes the files (see the module docstring); prints the mean log-likelihoods
  of the originals, the starting points and the inpaintings per mask kind; returns the PNG path.
  Default kinds: ``config.sampling.inpaint_mask`` and ``random``."""
  config, model, spec = run.config, run.model, run.data.spec
  if jax.process_count() > 1:
    raise Failure('launch.nice_inpaint runs as one process (it inpaints a handful of images); '
                  'unset JAX_COORDINATOR_ADDRESS / run it without the multi-process launcher')
  if 'inpaint' not in model.extras:
    raise Failure(f'family {config.model.family!r} has no inpainting')
  if len(spec.shape) != 3:
    raise Failure(f'inpainting needs image data, got shape {spec.shape}')
  kinds = list(kinds) or [config.sampling.inpaint_mask, 'random']
  x = np.asarray(run.data.eval_array(num), np.float32)
  key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 4242)
  mask = _masks(spec.shape, kinds, num, keep, key)
  xs = np.concatenate([x] * len(kinds))

  fill = jax.jit(lambda p, r, v, m: model.extras['inpaint'](p, r, v, m, config.sampling))
  log_prob = jax.jit(lambda p, v: model.log_prob(p, {'x': v}, None))
  t0 = time.perf_counter()
  out, info = fill(run.params, key, jnp.asarray(xs), jnp.asarray(mask))
  out, lp = np.asarray(out), np.asarray(info['log_prob'])
  lp_orig = np.asarray(log_prob(run.params, jnp.asarray(xs)))
  s = config.sampling
  print(f'inpainting: {s.inpaint_steps} steps, a_i = {s.inpaint_lr}/({s.inpaint_lr_offset} + i), '
        f'noise {s.inpaint_noise}, {len(xs)} images in {time.perf_counter() - t0:.1f}s incl. '
        'compilation')
  rows = []
  mid = 0.5 * (spec.low + spec.high)
  for j, kind in enumerate(kinds):
    sl = slice(j * num, (j + 1) * num)
    print(f'  {kind:12s} hidden {1 - mask[sl].mean():.0%}: log p (nats/image) original '
          f'{lp_orig[sl].mean():9.1f}  start {lp[0, sl].mean():9.1f}  inpainted '
          f'{lp[-1, sl].mean():9.1f}')
    rows += [xs[sl], np.where(mask[sl], xs[sl], mid), out[sl]]
  grid = viz.image_grid(viz.to_uint8(np.concatenate(rows), spec), ncol=num)
  name = name or f'inpaint_{run.step}'
  out_dir = paths.join(workdir, 'samples')
  paths.makedirs(out_dir)
  png = paths.join(out_dir, name + '.png')
  viz.write_png(png, grid[..., 0] if grid.shape[-1] == 1 else grid, scale=4)
  paths.write_npz(paths.join(out_dir, name + '.npz'), original=xs, mask=mask, inpainted=out,
                  log_prob=lp, log_prob_original=lp_orig, kinds=np.array(kinds))
  print(f'{png} (rows per mask kind {kinds}: original / observed / inpainted)')
  return png
