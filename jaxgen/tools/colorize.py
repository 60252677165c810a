"""Colorizing grey test images with any family whose Model declares a ``'colorize'`` extra.

The extra's signature: ``colorize(params, rng, gray, sampling) -> (x, info)`` with ``gray`` an RGB
batch ``[b, H, W, 3]`` whose three channels are equal (the channel mean of the colour image) and
``x`` a colour image of the same grey level. Today: score SDEs (the PC sampler with replacement
in a grey/chroma basis, `jaxgen.diffusion.controllable.colorize`).

Takes ``num`` test images (the run's eval split, in the data space of ``batch['x']``), greys them
and colorizes them. Writes samples/<name>.png (three rows: grey inputs, colorized, originals) and
.npz (original, gray, colorized). Prints the mean squared error of the colorized images against
the originals (and of the grey inputs, for scale) and the largest change of the grey level.
Refusals (no such extra, data that are not RGB images, settings the extra refuses) come before
any image is read, compiled or written.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.runtime.cli import Failure
from jaxgen.tools import inpaint as inpaint_lib


def colorize(run, workdir: str, num: int = 8, name: str = '') -> str:
  """Colorizes and writes the files (see the module docstring); returns the PNG path."""
  config, model, spec = run.config, run.model, run.data.spec
  inpaint_lib.require_extra(run, 'colorize', 'colorization', 'launch.colorize')
  shape = tuple(spec.shape)
  if len(shape) != 3 or shape[-1] != 3:
    raise Failure(f'colorization needs RGB images [H, W, 3]; this run models '
                  f'config.data.name={spec.name} of shape {shape}: train on colour data (e.g. '
                  'data.name=tfds:cifar10) to colorize')
  if num < 1:
    raise ValueError(f'--num must be >= 1, got {num}')
  extra = model.extras['colorize']
  settings = model.sampling_settings(config.sampling)
  fill = jax.jit(lambda p, r, g: extra(p, r, g, settings))
  key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 4343)
  jax.eval_shape(fill, run.params, key, jax.ShapeDtypeStruct((num,) + shape, jnp.float32))

  x = np.asarray(run.data.eval_array(num), np.float32)
  if len(x) < num:
    raise ValueError(f'--num={num}: the evaluation split has only {len(x)} examples')
  gray = np.broadcast_to(x.mean(-1, keepdims=True), x.shape).astype(np.float32)
  t0 = time.perf_counter()
  out, info = fill(run.params, key, jnp.asarray(gray))
  out = np.asarray(out)
  nfe = int(np.max(np.asarray(info['nfe']))) if 'nfe' in info else None
  print(f'colorizing with {config.model.family}\'s extra: {num} images in '
        f'{time.perf_counter() - t0:.1f}s incl. compilation'
        + (f', {nfe} NFE per image' if nfe else ''))
  print(f'  MSE colorized vs original {np.mean((out - x) ** 2):.4f} (grey input '
        f'{np.mean((gray - x) ** 2):.4f}); grey level kept to '
        f'{np.max(np.abs(out.mean(-1) - gray[..., 0])):.1e}')
  png = inpaint_lib.write_picture(run, workdir, name or f'colorize_{run.step}',
                                  [gray, out, x], num, original=x, gray=gray, colorized=out)
  print(f'{png} (rows: grey / colorized / original)')
  return png
