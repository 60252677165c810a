"""Drawing samples of a Run and writing them as samples/<name>.png and .npz, sealed by
samples/<name>.json.

Samples are in the space of ``batch['x']`` (after the data transforms); the .npz holds
``samples`` and the sampler's info (``nfe`` = network evaluations per sample; ``label``, the class
of each sample, from class-conditional models, whose picture then has one row per class and a
title naming the label and the guidance scale). Both are written atomically through
`jaxgen.store.paths` (the workdir may be local or ``gs://...``), then their record (SHA-256 of
each, the step and the sampling settings: `jaxgen.store.shards.seal`); `finished` checks it, so a
picture cut short by a kill or a full disk counts as missing and is made again. `default_name`
names a picture by the settings that made it, so other settings never overwrite it.
"""

from __future__ import annotations

from typing import Callable, Optional

import jax
import numpy as np

from jaxgen.runtime import compile_options
from jaxgen.runtime import parallel
from jaxgen.runtime import viz
from jaxgen.runtime import workdir as workdir_lib
from jaxgen.store import paths
from jaxgen.store import shards

# The classifier-guidance keys of a sampling section: a picture's name shows them as _clf<l>_s<w>.
GUIDED = ('classifier', 'classifier_scale', 'label')


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


def _value(v) -> str:
  return (f'{v:g}' if isinstance(v, float) else str(v)).replace('/', '_').replace(' ', '')


def default_name(run, workdir: str, sampling=None, settings=None) -> str:
  """``sample_<step>_<sampler>``, plus ``_clf<label>_s<scale>`` where classifier-guided (label
  'all' for -1), plus ``_<key>-<value>`` for each other sampling key that differs from the run's
  config.json (``sample_4_heun_steps-20``, ``sample_4_dopri5_rtol-0.001``) and that the sampler
  name does not show already (a part of it ending in the value: ``pc_label3_w2``): pictures made
  with other settings get other names. ``sampling`` defaults to the run's (with overrides),
  ``settings`` (its typed value) to its conversion."""
  sampling = run.config.sampling if sampling is None else sampling
  settings = run.model.sampling_settings(sampling) if settings is None else settings
  now = sampling.to_dict()
  label = run.model.sampling_label(settings)
  name = f'sample_{run.step}_{label}'
  skip = set()
  if now.get('classifier'):
    target = int(now.get('label', -1))
    name += f"_clf{'all' if target < 0 else target}_s{float(now.get('classifier_scale', 1.0)):g}"
    skip = set(GUIDED)
  stored = workdir_lib.read_config(workdir).sampling.to_dict()
  flat_now = dict(shards.dotted(now))
  for key in shards.differing_keys(stored, now):
    shown = any(t.endswith(_value(flat_now.get(key))) for t in label.split('_'))
    if key not in skip and key in flat_now and not shown:
      name += f'_{key}-{_value(flat_now[key])}'
  return name


def finished(workdir: str, name: str) -> bool:
  """Whether samples/<name>.png and .npz were written whole (their record's SHA-256s match)."""
  return shards.sealed(paths.join(workdir, 'samples'), name + '.json')


def write(run, workdir: str, step: int, sampling=None, name: Optional[str] = None,
          draw: Optional[Callable] = None, settings=None) -> str:
  """Draws ``sampling.num_samples`` samples (default: ``run.config.sampling``) with ``run.params``
  and the key ``run.sample_rng(step)``, and writes samples/<name>.png and .npz (default name
  ``step_<step>``), each atomically, then their record samples/<name>.json (`finished`). Every
  process samples; process 0 writes and gets the PNG path, the others ''. `draw` is a `sampler`
  to reuse (one is made otherwise); `settings` the typed value of `sampling` where the caller
  made it (``model.sampling_settings``)."""
  sampling = sampling if sampling is not None else run.config.sampling
  draw = draw if draw is not None else sampler(run.model, run.mesh)
  settings = run.model.sampling_settings(sampling) if settings is None else settings
  x, info = draw(run.params, run.sample_rng(step), sampling.num_samples, settings)
  name = name or f'step_{step}'
  out_dir = paths.join(workdir, 'samples')
  if jax.process_index() != 0:
    return ''
  paths.makedirs(out_dir)
  paths.write_atomic(paths.join(out_dir, name + '.npz'), shards.npz_bytes(
      samples=x, **{k: np.asarray(v) for k, v in info.items()}))
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
  shards.seal(out_dir, name + '.json', [name + '.npz', name + '.png'], step=int(step),
              sampling=sampling.to_dict())
  return png
