"""Class conditioning shared by the conditional families (score_sde, rectified_flow): config keys,
their checks and the typed value of the sampling keys.

  model.num_classes   0: unconditional; K > 0: labels reach the network, which keeps K + 1 label
                      embeddings (index K = the null label); ``model.<net>.num_classes`` is set
                      from it (another non-zero value there is refused)
  loss.p_uncond       in [0, 1): label dropout (`jaxgen.diffusion.classifier_free.drop_labels`)
  sampling.label, .guidance, .guidance_tmin, .guidance_tmax: the `Conditioning` fields

`config_problems` are the rules across sections (a family's ``cross_checks``, at validation);
`check_spec` those that need the data's `DataSpec` (when the model is built).
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import ml_collections

from jaxgen.diffusion import classifier_free
from jaxgen.diffusion.classifier_free import Fn
from jaxgen.ode import solvers


@dataclasses.dataclass(frozen=True)
class Conditioning:
  """The sampling keys of a class-conditional model: ``label`` (k >= 0 one class, -1 all in
  turn, `jaxgen.diffusion.classifier_free.sample_labels`), ``guidance`` (w), ``guidance_tmin`` /
  ``guidance_tmax`` (the interval where w applies, in the family's time; the default [0, 1] is
  the whole path of both families)."""

  label: int = -1
  guidance: float = 0.0
  guidance_tmin: float = 0.0
  guidance_tmax: float = 1.0

  @classmethod
  def from_config(cls, section=None, base: 'Conditioning | None' = None) -> 'Conditioning':
    """From a ``sampling`` section or dict (keys it lacks: ``base``'s, else the defaults; other
    keys ignored); a value without these keys (a `jaxgen.ode.solvers.SolverSpec`, ...) gives
    ``base``."""
    if isinstance(section, Conditioning):
      return section
    if section is not None and not hasattr(section, 'keys'):
      return base if base is not None else cls()
    v = solvers.merged_fields(cls, section, base)
    return cls(label=int(v.get('label', -1)), guidance=float(v.get('guidance', 0.0)),
               guidance_tmin=float(v.get('guidance_tmin', 0.0)),
               guidance_tmax=float(v.get('guidance_tmax', 1.0)))

  @property
  def interval(self) -> Optional[tuple[float, float]]:
    """``(tmin, tmax)``, or None where it covers [0, 1] (no limit)."""
    if self.guidance_tmin <= 0.0 and self.guidance_tmax >= 1.0:
      return None
    return (self.guidance_tmin, self.guidance_tmax)

  def guide(self, cond_fn: Fn, uncond_fn: Fn) -> Fn:
    """`jaxgen.diffusion.classifier_free.classifier_free` with this value's scale and interval."""
    return classifier_free.classifier_free(cond_fn, uncond_fn, self.guidance, self.interval)

  def name(self) -> str:
    """A short tag for file names: ``label3`` / ``all``, plus ``_w2`` with guidance."""
    tag = 'all' if self.label < 0 else f'label{self.label}'
    return tag + (f'_w{self.guidance:g}' if self.guidance else '')


# Sources without labels (jaxgen.data: generated 2-D points; reflow pairs drop their labels).
UNLABELLED_SOURCES = ('toy2d:', 'pairs:')


def add_defaults(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Adds the conditioning keys (listed above) to a family's defaults ``c``."""
  c.model.num_classes = 0
  c.loss.p_uncond = 0.0
  c.sampling.label = -1
  c.sampling.guidance = 0.0
  c.sampling.guidance_tmin = 0.0
  c.sampling.guidance_tmax = 1.0
  return c


def ranges() -> dict:
  return {
      'model.num_classes': (lambda k: k >= 0, '>= 0 (0: unconditional)'),
      'loss.p_uncond': (lambda p: 0 <= p < 1, 'in [0, 1) (probability of the null label)'),
      'sampling.label': (lambda k: k >= -1, '>= -1 (-1: all classes, one row each)'),
      'sampling.guidance_tmin': (lambda t: 0 <= t <= 1, 'in [0, 1]'),
      'sampling.guidance_tmax': (lambda t: 0 <= t <= 1, 'in [0, 1]'),
  }


def config_problems(config) -> list[str]:
  """Messages for inconsistent conditioning keys (each names the key and the fix)."""
  mc, k = config.model, int(config.model.num_classes)
  out = []
  net_k = int(mc[mc.net].num_classes) if 'num_classes' in mc[mc.net] else 0
  if net_k not in (0, k):
    out.append(f'config.model.{mc.net}.num_classes={net_k} is set from config.model.num_classes '
               f'(now {k}): use --config.model.num_classes={net_k} and leave '
               f'model.{mc.net}.num_classes at 0')
  name = config.data.name
  if k > 0 and name.startswith(UNLABELLED_SOURCES):
    out.append(f'config.model.num_classes={k} needs labelled data, but config.data.name={name!r} '
               'has no labels: use a labelled set (digits, fashion_mnist, tfds:...) or '
               'model.num_classes=0')
  p = float(config.loss.p_uncond)
  if k == 0 and p > 0:
    out.append(f'config.loss.p_uncond={p:g} drops class labels, but config.model.num_classes=0 '
               '(unconditional): set model.num_classes (e.g. 10) or loss.p_uncond=0')
  s = config.sampling
  # With a guiding classifier (score SDEs: sampling.classifier) the label is the classifier's
  # class, checked against that classifier when it is opened.
  guided_by_classifier = bool(s.get('classifier', ''))
  if int(s.label) >= max(k, 0) and int(s.label) >= 0 and not guided_by_classifier:
    out.append(f'config.sampling.label={s.label} must be -1 (all classes) or a class in '
               + (f'0..{k - 1}' if k else 'a conditional model; this one has model.num_classes=0'))
  w = float(s.guidance)
  if w != 0 and k == 0:
    out.append(f'config.sampling.guidance={w:g} needs a class-conditional model '
               '(model.num_classes > 0, trained with loss.p_uncond > 0); set sampling.guidance=0')
  elif w != 0 and p == 0:
    out.append(f'config.sampling.guidance={w:g} needs the unconditional model at the null label, '
               'but loss.p_uncond=0 never trained it: set sampling.guidance=0 or train with '
               'loss.p_uncond > 0 (e.g. 0.1)')
  if float(s.guidance_tmin) >= float(s.guidance_tmax):
    out.append(f'config.sampling.guidance_tmin={s.guidance_tmin:g} must be below '
               f'guidance_tmax={s.guidance_tmax:g}')
  return out


def check_spec(mc, spec) -> None:
  """Refuses a conditional model of data without labels, or with another number of classes."""
  k = int(mc.num_classes)
  if k == 0:
    return
  if not spec.num_classes:
    raise ValueError(f'config.model.num_classes={k} needs labelled data, but {spec.name} has no '
                     'labels: use a labelled set or model.num_classes=0')
  if int(spec.num_classes) != k:
    raise ValueError(f'config.model.num_classes={k} but {spec.name} has {spec.num_classes} '
                     f'classes: set --config.model.num_classes={spec.num_classes}')


def net_config(mc) -> ml_collections.ConfigDict:
  """The config of ``model.<net>`` with its ``num_classes`` set from ``model.num_classes``."""
  cfg = ml_collections.ConfigDict(mc[mc.net].to_dict())
  cfg.num_classes = int(mc.num_classes)
  return cfg


def batch_labels(batch, num_classes: int):
  """``batch['label']`` of a conditional model's batch (a clear error where it is missing)."""
  if 'label' not in batch:
    raise ValueError(f'a class-conditional model (model.num_classes={num_classes}) needs '
                     "batch['label'] (int32 [b]; the null label is num_classes)")
  return batch['label']
