"""Inpainting test images with any family whose Model declares an ``'inpaint'`` extra.

The extra has one signature for every family, ``inpaint(params, rng, x_observed, mask, sampling)
-> (x, info)``: ``mask`` is boolean, True where observed (`jaxgen.data.masks`); ``x`` equals
``x_observed`` there exactly; ``sampling`` is the run's sampling section (with the command's
``--config.sampling.*`` overrides); ``info`` may carry family extras, and this module reads only
``'nfe'`` and ``'log_prob'`` (a ``[steps + 1, b]`` trace of log p, NICE's). Today: score SDEs (PC
sampler with replacement, `jaxgen.diffusion.controllable`), rectified flow (replacement along the
interpolation path, `jaxgen.ode.flow_inpaint`) and NICE (projected gradient ascent on log p,
`jaxgen.models.nice.gradient_inpaint`).

For each mask kind ``num`` test images (the run's eval split, in the data space of ``batch['x']``)
have their hidden pixels filled. Writes samples/<name>.png (per mask kind three rows: originals,
observed pixels with the hidden ones mid-grey, inpaintings) and .npz (original, mask, inpainted,
kinds, mse_hidden per kind; with a log_prob trace also log_prob and log_prob_original). Prints per
mask kind the mean squared error of the hidden pixels against the originals (and that of a
mid-grey fill, for scale), and, where the family traces it, the mean log p of the originals, the
starting points and the inpaintings.

Every refusal (a family without the extra, non-image data, an unknown mask kind, settings the
family's extra refuses, e.g. an adaptive ODE solver for a flow) happens before any image is read,
compiled or written: the extra is traced once with `jax.eval_shape` first.
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.data import masks as masks_lib
from jaxgen.models import base as models_base
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import viz
from jaxgen.runtime.cli import Failure
from jaxgen.store import paths


@functools.lru_cache(maxsize=None)
def _offered_by(extra: str, spec) -> tuple[str, ...]:
  """The families whose Model, built with their defaults for data of ``spec``, declares
  ``extra`` (a family that cannot be built for this data does not offer it here)."""
  names = []
  for family in models_base.families():
    try:
      model = models_base.family_module(family).build(cfg_lib.base(family), spec)
    except Exception:  # noqa: BLE001  (a family that cannot model this data)
      continue
    if extra in model.extras:
      names.append(family)
  return tuple(names)


def require_extra(run, extra: str, what: str, command: str) -> None:
  """Refuses (`Failure`, exit 2) a run whose Model declares no ``extra``, naming the family and
  the families that do offer it; and a run of several processes."""
  if jax.process_count() > 1:
    raise Failure(f'{command} runs as one process (it works on a handful of images); unset '
                  'JAX_COORDINATOR_ADDRESS / run it without the multi-process launcher')
  if extra not in run.model.extras:
    family = run.config.model.family
    others = [f for f in _offered_by(extra, run.data.spec) if f != family]
    raise Failure(f'family {family!r} offers no {what} (its Model declares no {extra!r} extra); '
                  f'{what} is offered by: {", ".join(others) or "no family"}')


def write_picture(run, workdir: str, name: str, rows, num: int, **arrays) -> str:
  """samples/<name>.png (the ``rows`` of ``num`` images, stacked) and samples/<name>.npz."""
  spec = run.data.spec
  grid = viz.image_grid(viz.to_uint8(np.concatenate(rows), spec), ncol=num)
  out_dir = paths.join(workdir, 'samples')
  paths.makedirs(out_dir)
  png = paths.join(out_dir, name + '.png')
  viz.write_png(png, grid[..., 0] if grid.shape[-1] == 1 else grid, scale=4)
  paths.write_npz(paths.join(out_dir, name + '.npz'), **arrays)
  return png


def _default_kinds(config) -> list[str]:
  first = config.sampling.get('inpaint_mask', 'bottom_half')
  return [first] + (['random'] if first != 'random' else [])


def inpaint(run, workdir: str, kinds=(), num: int = 8, keep: float = 0.25, name: str = '') -> str:
  """Inpaints and writes the files (see the module docstring); returns the PNG path. Default
  kinds: ``config.sampling.inpaint_mask`` (where the family has that key, else 'bottom_half')
  and 'random'."""
  config, model, spec = run.config, run.model, run.data.spec
  require_extra(run, 'inpaint', 'inpainting', 'launch.inpaint')
  if len(spec.shape) != 3:
    raise Failure(f'inpainting needs image data [H, W, C]; config.data.name={spec.name} has '
                  f'examples of shape {tuple(spec.shape)}')
  kinds = list(kinds) or _default_kinds(config)
  masks_lib.check_kinds(kinds)
  if num < 1 or not 0.0 < keep <= 1.0:
    raise ValueError(f'--num must be >= 1 (got {num}) and --keep in (0, 1] (got {keep})')
  b = len(kinds) * num
  extra = model.extras['inpaint']
  settings = model.sampling_settings(config.sampling)
  fill = jax.jit(lambda p, r, v, m: extra(p, r, v, m, settings))
  key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 4242)
  x_shape = jax.ShapeDtypeStruct((b,) + tuple(spec.shape), jnp.float32)
  jax.eval_shape(fill, run.params, key, x_shape,
                 jax.ShapeDtypeStruct(x_shape.shape, jnp.bool_))  # the extra's own refusals

  x = np.asarray(run.data.eval_array(num), np.float32)
  if len(x) < num:
    raise ValueError(f'--num={num}: the evaluation split has only {len(x)} examples')
  mask = masks_lib.batch_masks(tuple(spec.shape), kinds, num, keep, key)
  xs = np.concatenate([x] * len(kinds))
  t0 = time.perf_counter()
  out, info = fill(run.params, key, jnp.asarray(xs), jnp.asarray(mask))
  out = np.asarray(out)
  seconds = time.perf_counter() - t0
  nfe = int(np.max(np.asarray(info['nfe']))) if 'nfe' in info else None
  trace = np.asarray(info['log_prob']) if 'log_prob' in info else None
  extra_arrays = {}
  if trace is not None:
    lp_orig = np.asarray(jax.jit(lambda p, v: model.log_prob(p, {'x': v}, None))(
        run.params, jnp.asarray(xs)))
    extra_arrays = dict(log_prob=trace, log_prob_original=lp_orig)
  print(f'inpainting with {config.model.family}\'s extra: {b} images in {seconds:.1f}s incl. '
        f'compilation' + (f', {nfe} NFE per image' if nfe else ''))
  mid = 0.5 * (spec.low + spec.high)
  rows, mse = [], []
  for j, kind in enumerate(kinds):
    sl = slice(j * num, (j + 1) * num)
    hidden = ~mask[sl]
    err = float(np.mean((out[sl] - xs[sl])[hidden] ** 2)) if hidden.any() else 0.0
    grey = float(np.mean((mid - xs[sl])[hidden] ** 2)) if hidden.any() else 0.0
    mse.append(err)
    line = (f'  {kind:12s} hidden {hidden.mean():4.0%}: MSE of the hidden pixels {err:.4f} '
            f'(mid-grey fill {grey:.4f})')
    if trace is not None:
      line += (f'; log p (nats/image) original {extra_arrays["log_prob_original"][sl].mean():.1f}'
               f'  start {trace[0, sl].mean():.1f}  inpainted {trace[-1, sl].mean():.1f}')
    print(line)
    rows += [xs[sl], np.where(mask[sl], xs[sl], mid), out[sl]]
  png = write_picture(run, workdir, name or f'inpaint_{run.step}', rows, num, original=xs,
                      mask=mask, inpainted=out, kinds=np.array(kinds),
                      mse_hidden=np.array(mse, np.float32), **extra_arrays)
  print(f'{png} (rows per mask kind {kinds}: original / observed / inpainted)')
  return png
