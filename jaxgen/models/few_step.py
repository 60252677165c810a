"""What the few-step families that jump from noise to data share (mean_flow, shortcut): the network
adapter with its second label, and the typed sampling settings (k jumps, class conditioning).

Not a family (no ``defaults`` / ``build``). Time as rectified flow's: t = 0 noise, t = 1 data.
The network (``model.net``: the score MLP or the U-Net, with ``step_input`` set here) sees
``t * model.time_label_scale`` and its second label ``h * model.time_label_scale``, h in [0, 1]
(MeanFlow's interval r - t, a shortcut's step size d); class labels as
`jaxgen.models.conditioning` (None: the null label).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.diffusion import classifier_free
from jaxgen.models import conditioning
from jaxgen.models.base import merged_section, typed_settings
from jaxgen.nets import score_mlp, unet

NETS = {'score_mlp': score_mlp, 'unet': unet}


def model_defaults() -> ml_collections.ConfigDict:
  """The ``model`` section: the net, its presets and the time scale."""
  return ml_collections.ConfigDict(dict(
      net='score_mlp',             # 'score_mlp' (vectors) | 'unet' (images)
      score_mlp=score_mlp.defaults(),
      unet=unet.small(),
      time_label_scale=999.0,      # the network sees t * scale and its second label * scale
  ))


def net_choices() -> dict:
  return {'model.net': tuple(NETS), **unet.choices('model.unet'),
          **score_mlp.choices('model.score_mlp')}


@dataclasses.dataclass(frozen=True)
class Sampling:
  """The typed ``sampling`` settings: ``steps`` jumps and the class conditioning (ignored by
  unconditional models); hashable (a jit cache key)."""

  steps: int = 1
  cond: conditioning.Conditioning = conditioning.Conditioning()


def sampling_settings(section) -> Sampling:
  """The `Sampling` of a whole ``sampling`` section (ConfigDict or dict)."""
  return Sampling(steps=int(section['steps']), cond=conditioning.Conditioning.from_config(section))


class Net:
  """The family's network: ``apply(params, x, t, h, train, rng, y)`` and ``init(rng, x)``."""

  def __init__(self, config, spec):
    mc = config.model
    conditioning.check_spec(mc, spec)
    self.num_classes = int(mc.num_classes)
    net_cfg = conditioning.net_config(mc)
    net_cfg.step_input = True
    self._net = NETS[mc.net].build(net_cfg)
    self._scale = float(mc.time_label_scale)
    self._sampling = config.sampling

  @property
  def conditional(self) -> bool:
    return self.num_classes > 0

  def apply(self, params, x, t, h, train=False, rng=None, y=None):
    """The network's output at times ``t``, second labels ``h`` (scalars or [b]), labels ``y``."""
    b = x.shape[:1]
    t = jnp.broadcast_to(jnp.asarray(t, jnp.float32), b)
    h = jnp.broadcast_to(jnp.asarray(h, jnp.float32), b)
    if self.conditional:
      y = jnp.broadcast_to(jnp.asarray(self.num_classes if y is None else y, jnp.int32), b)
    return self._net.apply({'params': params}, x, t * self._scale, train=train,
                           rngs={'dropout': rng} if train else None, y=y,
                           step_label=h * self._scale)

  def init(self, rng, x):
    y = jnp.zeros(x.shape[:1], jnp.int32) if self.conditional else None
    zero = jnp.zeros(x.shape[:1])
    return self._net.init({'params': rng, 'dropout': rng}, x, zero, y=y,
                          step_label=zero)['params']

  def training_labels(self, batch, rng, p_uncond):
    """``(labels after dropout or None, rng left for dropout)``."""
    if not self.conditional:
      return None, rng
    rng, k_label = jax.random.split(rng)
    return classifier_free.drop_labels(k_label, conditioning.batch_labels(batch, self.num_classes),
                                       p_uncond, self.num_classes), rng

  def settings(self, value=None) -> Sampling:
    """A `Sampling` of the run's section with ``value`` (a dict of some keys) over it; a
    `Sampling` as is."""
    if isinstance(value, Sampling):
      return value
    return sampling_settings(merged_section(self._sampling, value))

  def sampling_label(self, family: str):
    """``settings -> 'kstep'`` (plus the conditioning's tag for a conditional model)."""
    def label(settings):
      s = typed_settings(settings, Sampling, family)
      return f'{s.steps}step_{s.cond.name()}' if self.conditional else f'{s.steps}step'
    return label

  def guided(self, params, n, s: Sampling):
    """``(f(x, t, h), labels or None, evaluations per call of f)`` for ``n`` samples with ``s``:
    the network at the sampled labels, guided with ``s.cond`` (unconditional: the network)."""
    if not self.conditional:
      return (lambda x, t, h: self.apply(params, x, t, h)), None, 1
    labels = classifier_free.sample_labels(n, s.cond.label, self.num_classes)

    def f(x, t, h):
      return s.cond.guide(lambda tt, xx: self.apply(params, xx, tt, h, y=labels),
                          lambda tt, xx: self.apply(params, xx, tt, h))(t, x)

    return f, labels, classifier_free.nfe_factor(s.cond.guidance)


def sample_info(info, labels, factor: int) -> dict:
  """A sampler's ``info`` with ``nfe`` times ``factor`` and ``label`` where labels were drawn."""
  info = {**info, 'nfe': info['nfe'] * factor}
  return info if labels is None else {**info, 'label': labels}
