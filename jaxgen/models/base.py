"""The one interface every generative family builds.

The training loop, the evaluator and `launch.sample` only ever see a `Model`: a record of pure
functions of `(params, inputs, rng)`. A family module or package `jaxgen.models.<family>` exposes

    defaults() -> ConfigDict     # schema + defaults of the family's `model`, `loss`, `sampling`
                                 # (and `likelihood` for ODE likelihoods)
    build(config, spec) -> Model # config: the whole validated run config; spec: the data's DataSpec
                                 # (a family that distils a frozen network takes it as a third
                                 # argument, ``teacher``, which `launch.train` opens: consistency)

and is found by name (`config.model.family`), so adding a family never edits a central list.
Optional hooks, run by `jaxgen.runtime.config.validate` before anything is written: ``choices()``
and ``ranges()`` (closed value sets and ranges of dotted keys), ``cross_checks(config)`` (rules
across sections, a list of messages) and ``check(config)`` (builds the settings values the family
would build when sampling or evaluating, raising ValueError naming the key; it runs under
`jax.eval_shape`, so it may build grids but sees no concrete array values).

Conventions shared by every family
----------------------------------
* A batch is a dict: ``batch['x']`` is float32 of shape ``[b, *spec.shape]`` holding the data
  *after* the data transforms (scaling, dequantization, binarization, flips: see `jaxgen.data`);
  ``batch['label']`` (int32 ``[b]``) is present when the source has labels; ``batch['x0']`` (the
  noise end of a deterministic coupling, same shape as ``x``) when the source is ``pairs:`` (see
  `jaxgen.data.pairs`, rectified flow's reflow).
* ``params`` is a plain pytree (flax ``variables['params']`` or a dict of arrays).
* ``log_prob`` takes a batch dict like ``loss`` does (so class-conditional models see their labels)
  and returns per-example log-likelihood in **nats**. If ``discrete`` is True it is the log
  probability mass of the (integer-valued) data; otherwise it is the log *density* of the
  continuous data in the transformed space, and `jaxgen.metrics.bpd` adds the bin width to turn it
  into bits/dim.
* ``sample`` returns samples in the same space as ``batch['x']`` plus an info dict that always holds
  ``'nfe'`` (network evaluations per sample, an int; 0 where meaningless).
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable, Mapping, Optional

Params = Any
Batch = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Model:
  """A generative family's pure functions.

  Attributes:
    init: ``(rng, x_example) -> params``; ``x_example`` is a batch of data ``[b, *shape]`` (the
      trainer passes the first global training batch, the same on every host, so a
      data-dependent initialisation may read its statistics).
    loss: ``(params, batch, rng, train=True) -> (scalar, metrics)``; scalar is the mean over the
      batch, metrics a dict of scalars (also batch means). ``train=False`` turns dropout off (the
      evaluator's ``eval/loss``); the rest of the randomness (times, noise) still comes from
      ``rng``. Must be jit- and grad-compatible.
    sample: ``(params, rng, n, settings) -> (x, info)`` with ``settings`` the family's typed
      sampling value (``sampling_settings``; static, hashable); jit-compatible for static ``n``.
      ``info`` may hold ``'label'`` (int32 ``[n]``, the classes of a class-conditional draw; the
      picture puts class k in row k). None for a family with no sampler (the classifier).
    log_prob: ``(params, batch, rng) -> [b]`` log-likelihood in nats of ``batch['x']``, or None if
      the family has none. ODE families take ``likelihood=None`` too: the solve settings (section,
      dict or `SolverSpec`; None: the run's ``likelihood`` section).
    discrete: whether ``log_prob`` is a probability mass over integer data (see module doc).
    velocity: ``(params, t, x) -> dx/dt`` for families defined by an ODE (rectified flow, the
      probability-flow ODE of a score SDE), with the family's time convention; else None.
    t_span: ``(t_start, t_end)`` of the sampling ODE in the family's time convention (noise at
      t_start, data at t_end); None where ``velocity`` is None.
    extras: family-specific pure functions (encode/decode, inpaint, ...), by name. Families whose
      ``log_prob`` solves an ODE also give ``'log_prob_stats'``: ``(params, batch, rng,
      likelihood=None) -> (log_prob [b], {'nfe': [b]})`` (the evaluator's ``likelihood_nfe``), of
      which ``log_prob`` is the first half, so the contract above stays ``[b]`` nats.
      ``'after_update'``: ``(params_before, params_after, batch, rng) -> params``, updates no
      gradient makes (the VQ-VAE's codebook EMA), applied by the trainer after the optimizer's.
    sampling_settings: ``section -> settings``, the typed value of a ``sampling`` section (a
      dict of some of its keys: the others are the run's; a typed value as is), made once per
      command by the caller and passed to ``sample``, ``sampling_label``, ``adaptive_ode`` and
      the sampling extras.
    sampling_label: ``settings -> str``, a short name of the sampler (``'dopri5'``, ``'pc'``,
      ``'fast'``); names sample files.
    adaptive_ode: ``settings -> bool``, whether ``sample`` runs an adaptive ODE solve (the
      runtime then compiles it with its ODE-solve options).
  """

  init: Callable[..., Params]
  loss: Callable[..., Any]
  sample: Optional[Callable[..., Any]]
  log_prob: Optional[Callable[..., Any]] = None
  discrete: bool = False
  velocity: Optional[Callable[..., Any]] = None
  t_span: Optional[tuple[float, float]] = None
  extras: Mapping[str, Callable[..., Any]] = dataclasses.field(default_factory=dict)
  sampling_settings: Callable[[Any], Any] = lambda section: section
  sampling_label: Callable[[Any], str] = lambda settings: 'default'
  adaptive_ode: Callable[[Any], bool] = lambda settings: False


def typed_settings(settings, cls, family: str):
  """``settings`` if it is the family's typed sampling value ``cls``, else a TypeError naming
  the fix (a section reaches ``sample`` only through ``sampling_settings``)."""
  if not isinstance(settings, cls):
    raise TypeError(f'{family} samples with its typed settings ({cls.__name__}), got '
                    f'{type(settings).__name__}: pass model.sampling_settings(section)')
  return settings


def merged_section(run_section, value=None) -> dict:
  """The keys of the run's ``sampling`` section with those of ``value`` (a mapping or None) over
  them: what a family's ``sampling_settings`` converts."""
  out = {k: run_section[k] for k in run_section.keys()}
  if value is not None:
    out.update({k: value[k] for k in value.keys()})
  return out


def batch_x(batch: Batch):
  """``batch['x']``, with a clear error where a bare array was passed for the batch dict."""
  if not isinstance(batch, Mapping):
    raise TypeError(f"expected the batch dict {{'x': ..., 'label'?: ...}}, got "
                    f"{type(batch).__name__}; pass {{'x': x}}")
  return batch['x']


def family_module(name: str):
  """Imports ``jaxgen.models.<name>``; a clear error lists the families that exist (a module of
  shared helpers, such as `conditioning`, is not a family)."""
  try:
    module = importlib.import_module(f'jaxgen.models.{name}')
  except ModuleNotFoundError as e:
    if e.name != f'jaxgen.models.{name}':
      raise
    module = None
  if module is None or not _is_family(module):
    raise ValueError(
        f'config.model.family={name!r} is not a jaxgen family; available: {", ".join(families())}'
    ) from None
  return module


def _is_family(module) -> bool:
  return callable(getattr(module, 'build', None)) and callable(getattr(module, 'defaults', None))


def families() -> list[str]:
  """Names of the family modules under jaxgen/models (those defining `build` and `defaults`)."""
  import pkgutil

  import jaxgen.models as pkg

  names = [m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name not in ('base', '__init__')]
  return sorted(n for n in names if _is_family(importlib.import_module(f'jaxgen.models.{n}')))
