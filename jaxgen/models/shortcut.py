"""Shortcut models (Frans, Hafner, Levine, Abbeel 2024): 1, 2, 4, 8, ... steps; the family.

The maths is `jaxgen.ode.shortcut` (**t = 0 noise, t = 1 data**, as rectified flow and the
paper). The network ``s(x, t, d)`` sees ``t * time_label_scale`` and, as its second label
(``step_input``, set here), the step size ``d * time_label_scale``. Training: a fraction
``1 - loss.consistency_fraction`` of each batch learns the flow-matching target at d = 0, the
rest the self-consistency target of step 2d from two half steps of the model (stop-gradient),
2d in {1, 1/2, ..., 2 / loss.max_steps}. Sampling: ``sampling.steps`` = k (a power of two up
to ``loss.max_steps``) Euler jumps of size 1/k from N(0, I) at t = 0; nfe = k.

The network adapter and the sampling settings: `jaxgen.models.few_step`. Class conditioning
(`jaxgen.models.conditioning`): ``model.num_classes``, ``loss.p_uncond`` (the label dropout of
both kinds of targets); ``sampling.guidance`` guides each jump (two evaluations per jump).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.models import conditioning, few_step
from jaxgen.models.base import Model, typed_settings
from jaxgen.ode import shortcut


def defaults() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.model = few_step.model_defaults()   # the second label: the step size d
  c.loss = ml_collections.ConfigDict(dict(
      consistency_fraction=0.25,   # of each batch: self-consistency targets (the paper's 1/4)
      max_steps=128,               # M: the finest step 1/M is the d = 0 velocity (a power of 2)
  ))
  c.sampling = ml_collections.ConfigDict(dict(
      steps=1,                     # k: jumps of size 1/k (a power of two <= loss.max_steps)
      num_samples=1024,
  ))
  conditioning.add_defaults(c)  # model.num_classes, loss.p_uncond, sampling.label / guidance*
  return c


def choices() -> dict:
  return few_step.net_choices()


def ranges() -> dict:
  return {
      **conditioning.ranges(),
      'loss.consistency_fraction': (lambda f: 0 <= f < 1,
                                    'in [0, 1) (the rest learns the flow-matching target)'),
      'loss.max_steps': (lambda m: m >= 2 and shortcut.is_power_of_two(m),
                         'a power of two >= 2 (the paper: 128)'),
      'sampling.steps': (shortcut.is_power_of_two,
                         'a power of two: 1, 2, 4, 8, ... (the step sizes the model learns)'),
  }


def cross_checks(config) -> list[str]:
  problems = []
  k, m = int(config.sampling.steps), int(config.loss.max_steps)
  if k > m:
    problems.append(f'config.sampling.steps={k} is finer than the finest step the model learns '
                    f'(1/loss.max_steps = 1/{m}): use sampling.steps <= {m}')
  return problems + conditioning.config_problems(config)


def build(config, spec) -> Model:
  lc = config.loss
  net = few_step.Net(config, spec)
  fraction, max_steps = float(lc.consistency_fraction), int(lc.max_steps)

  def loss(params, batch, rng, train=True):
    k_loss, k_drop = jax.random.split(rng)
    y, k_drop = net.training_labels(batch, k_drop, lc.p_uncond)

    def s(x, t, d, rows):
      return net.apply(params, x, t, d, train=train, rng=k_drop, y=None if y is None else y[rows])

    return jnp.mean(shortcut.loss(s, batch['x'], k_loss, fraction, max_steps)), {}

  def sample(params, rng, n, settings):
    s = typed_settings(settings, few_step.Sampling, 'shortcut')
    f, labels, factor = net.guided(params, n, s)
    z0 = jax.random.normal(rng, (n,) + tuple(spec.shape))
    x, info = shortcut.sample(f, z0, s.steps, max_steps)
    return x, few_step.sample_info(info, labels, factor)

  return Model(init=net.init, loss=loss, sample=sample, sampling_settings=net.settings,
               sampling_label=net.sampling_label('shortcut'))
