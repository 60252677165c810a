"""Drawing samples of a Run and writing them as samples/<name>.png and .npz.

Samples are in the space of ``batch['x']`` (after the data transforms); the .npz holds
``samples`` and the sampler's info (``nfe`` = network evaluations per sample; ``label``, the class
of each sample, from class-conditional models, whose picture then has one row per class and a
title naming the label and the guidance scale). Both go through
`jaxgen.store.paths`, so the workdir may be local or ``gs://...``.
"""

from __future__ import annotations

from typing import Callable, Optional

import jax
import numpy as np

from jaxgen.runtime import compile_options
from jaxgen.runtime import parallel
from jaxgen.runtime import viz
from jaxgen.store import paths


def sampler(model, mesh) -> Callable:
  """``(params, rng, n, settings) -> (x, info)`` as numpy arrays, whole on every process:
  ``model.sample`` jit-compiled once per (n, settings) (its own cache; ``settings`` the typed
  value of ``model.sampling_settings``), sharded over the batch
  where the devices divide n, with the ODE-solve options where the family's sampler is an
  adaptive ODE solve (``model.adaptive_ode``)."""
  cache = {}

  def draw(params, rng, n: int, sampling):
    key = (n, repr(sampling))
    if key not in cache:
      rep = parallel.replicated(mesh)
      out = parallel.batch_sharding(mesh) if n % mesh.devices.size == 0 else rep
      cache[key] = jax.jit(lambda p, r: model.sample(p, r, n, sampling), out_shardings=(out, rep),
                           compiler_options=compile_options.sampling_options(model, sampling))
    x, info = cache[key](params, rng)
    return parallel.to_host(x), dict(parallel.to_host(info))

  return draw


def write(run, workdir: str, step: int, sampling=None, name: Optional[str] = None,
          draw: Optional[Callable] = None, settings=None) -> str:
  """Draws ``sampling.num_samples`` samples (default: ``run.config.sampling``) with ``run.params``
  and the key ``run.sample_rng(step)``, and writes samples/<name>.png and .npz (default name
  ``step_<step>``). Every process samples; process 0 writes and gets the PNG path, the others ''.
  `draw` is a `sampler` to reuse (one is made otherwise); `settings` the typed value of
  `sampling` where the caller made it (``model.sampling_settings``)."""
  sampling = sampling if sampling is not None else run.config.sampling
  draw = draw if draw is not None else sampler(run.model, run.mesh)
  settings = run.model.sampling_settings(sampling) if settings is None else settings
  x, info = draw(run.params, run.sample_rng(step), sampling.num_samples, settings)
  name = name or f'step_{step}'
  out_dir = paths.join(workdir, 'samples')
  if jax.process_index() != 0:
    return ''
  paths.makedirs(out_dir)
  paths.write_npz(paths.join(out_dir, name + '.npz'), samples=x,
                  **{k: np.asarray(v) for k, v in info.items()})
  png = paths.join(out_dir, name + '.png')
  title = f'{run.config.model.family} step {step}, NFE {int(info["nfe"])}'
  labels = info.get('label')
  if labels is not None:
    label = int(sampling['label']) if 'label' in sampling else -1
    title += (', label ' + ('all (row k: class k)' if label < 0 else str(label))
              + f', guidance w={float(sampling["guidance"]) if "guidance" in sampling else 0:g}')
  viz.save_samples(png, x, run.data.spec,
                   reference=run.data.eval_array(len(x)) if x.ndim == 2 else None,
                   title=title, labels=labels)
  return png
