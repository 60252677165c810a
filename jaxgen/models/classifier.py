"""A time-dependent (noise-conditional) classifier p_t(y | x(t)) (Song et al. 2021, Sec. 5 and
App. I): the family record. It has no generative sampler (``Model.sample`` is None: the trainer
skips samples, `launch.sample` refuses it); it guides a score SDE's sampler
(`jaxgen.diffusion.classifier_guidance`, `jaxgen.tools.classifier_run`).

Conventions
-----------
* ``model.noise`` is the SDE whose marginals it is trained on, with the score-SDE family's keys and
  conventions (`jaxgen.diffusion.sde`): 'vpsde' / 'subvpsde' (``beta_min``, ``beta_max``),
  'vesde' (``sigma_min``, ``sigma_max``), or 'none' (a clean-data classifier, e.g. to evaluate
  samples). **t = 0 is data, t = 1 noise**; ``x_t = alpha(t) x_0 + sigma(t) z``.
* The network (`jaxgen.nets.classifier`, config ``model.classifier``) sees the time label of the
  score-SDE family: ``t * 999`` for VP / sub-VP, ``sigma(t)`` for VE (use
  ``model.classifier.embedding_type='fourier'`` there, as NCSN++ does); 'none' has no time input.
* Data: ``batch['label']`` (int32 ``[b]``) is required; the number of classes is the data's
  (``spec.num_classes``). Data scaling is the data section's and must be the score run's (VP:
  [-1, 1], ``data.scale='symmetric'``).
* Loss: the cross-entropy (nats) of ``batch['label']`` under the logits of ``x_t`` with
  ``t ~ U(loss.eps, 1)`` (1e-5, as the score family's DSM) and fresh noise; metrics:
  ``accuracy`` of the batch at those times. 'none': of the clean ``x``.
* Evaluation metric ``accuracy`` (`jaxgen.runtime.evaluators.classification`): ``eval/accuracy``
  at ``t = loss.eps`` (clean for 'none') and ``eval/accuracy_t<t>`` at each t of `EVAL_TIMES`
  (noisy classifiers only), over the evaluation split, noise from the evaluator's key.
* ``extras``: 'logits' ``(params, t, x) -> [b, K]`` of an ``x`` already at time t (``t`` scalar
  or ``[b]``; ignored for 'none'); 'log_prob_y' ``(params, t, x, y) -> [b]`` the log-posterior
  ``log p_t(y | x)`` in nats; 'features' ``(params, x) -> [b, F]`` the penultimate layer
  (`jaxgen.nets.classifier`, ``F = nf * ch_mult[-1]``) of a clean ``x`` (time label of t = eps;
  a clean classifier's are the features of `jaxgen.runtime.evaluators.classifier_asset`);
  'correct' ``(params, batch, rng) -> {name: [b] 0/1}`` (the evaluator's); 'noise_sde' ``() ->
  the jaxgen.diffusion.sde instance or None``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.diffusion import sde as sde_lib
from jaxgen.models.base import Model, batch_x
from jaxgen.nets import classifier as net_lib

NOISES = ('vpsde', 'subvpsde', 'vesde', 'none')
# The times of eval/accuracy_t<t> (a noisy classifier's accuracy along the diffusion).
EVAL_TIMES = (0.25, 0.5, 0.75)
# Data sources without labels (refused at validation; a tfds set without labels at build).
UNLABELLED = ('toy2d:', 'pairs:')


def defaults() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.model = ml_collections.ConfigDict(dict(
      noise='vpsde',            # 'vpsde' | 'subvpsde' | 'vesde' | 'none' (clean classifier)
      beta_min=0.1,             # VP / sub-VP (the score-SDE family's keys)
      beta_max=20.0,
      sigma_min=0.01,           # VE
      sigma_max=50.0,
      classifier=net_lib.defaults(),
  ))
  c.loss = ml_collections.ConfigDict(dict(
      eps=1e-5,                 # t ~ U(eps, 1); eval/accuracy is at t = eps
  ))
  # A classifier has no sampler; the section exists because every run has one (unused).
  c.sampling = ml_collections.ConfigDict(dict(num_samples=0))
  return c


def choices() -> dict:
  return {'model.noise': NOISES, **net_lib.choices('model.classifier')}


def ranges() -> dict:
  return {'loss.eps': (lambda t: 0 < t < 1, 'in (0, 1) (the data end of t ~ U(eps, 1))')}


def cross_checks(config) -> list[str]:
  """A classifier learns ``batch['label']``: data sources without labels are refused here."""
  if config.data.name.startswith(UNLABELLED):
    return [f'config.data.name={config.data.name!r} has no labels, and the classifier family '
            "learns batch['label']: train it on labelled data (digits, fashion_mnist, "
            'tfds:<a set with labels>)']
  return []


def make_noise(model_config):
  """The `jaxgen.diffusion.sde` instance of ``model.noise`` (None for 'none')."""
  mc = model_config
  if mc.noise == 'none':
    return None
  if mc.noise == 'vesde':
    return sde_lib.VESDE(sigma_min=mc.sigma_min, sigma_max=mc.sigma_max)
  cls = sde_lib.SubVPSDE if mc.noise == 'subvpsde' else sde_lib.VPSDE
  return cls(beta_min=mc.beta_min, beta_max=mc.beta_max)


def time_label(sde, t):
  """The network's time input, the score-SDE family's: ``t * 999`` (VP, sub-VP), ``sigma(t)``
  (VE), 0 without noise."""
  if sde is None:
    return jnp.zeros_like(t)
  if isinstance(sde, sde_lib.VESDE):
    return sde.sigma(t)
  return t * 999.0


def build(config, spec) -> Model:
  mc = config.model
  if not spec.num_classes:
    raise ValueError(f'config.data.name={spec.name!r} has no labels (num_classes is unknown), and '
                     "the classifier family learns batch['label']: train it on labelled data")
  num_classes = int(spec.num_classes)
  sde = make_noise(mc)
  net = net_lib.build(mc.classifier, num_classes, time_conditional=sde is not None)
  eps = float(config.loss.eps)

  def logits_fn(params, t, x, train=False, rng=None):
    t = jnp.broadcast_to(jnp.asarray(t, jnp.float32), x.shape[:1])
    rngs = {'dropout': rng} if (train and rng is not None) else None
    return net.apply({'params': params}, x, time_label(sde, t), train=train, rngs=rngs)

  def noised(x, t, rng):
    if sde is None:
      return x
    mean, std = sde.marginal_prob(x, t)
    return mean + sde_lib.bcast(std, x) * jax.random.normal(rng, x.shape, x.dtype)

  def init(rng, x):
    # label 1.0: a valid time label and a positive sigma (the Fourier embedding takes its log).
    return net.init({'params': rng, 'dropout': rng}, x, jnp.ones(x.shape[:1]))['params']

  def labels_of(batch):
    if 'label' not in batch:
      raise ValueError("the classifier family needs batch['label'] (labelled data)")
    return batch['label']

  def loss(params, batch, rng, train=True):
    x, y = batch_x(batch), labels_of(batch)
    rt, rz, rd = jax.random.split(rng, 3)
    t = jax.random.uniform(rt, x.shape[:1], minval=eps, maxval=1.0)
    logits = logits_fn(params, t, noised(x, t, rz), train, rd)
    logp = jax.nn.log_softmax(logits)
    nll = -jnp.take_along_axis(logp, y[:, None], axis=-1)[:, 0]
    return jnp.mean(nll), {'accuracy': jnp.mean(jnp.argmax(logits, -1) == y)}

  def logits(params, t, x):
    return logits_fn(params, t, x)

  def log_prob_y(params, t, x, y):
    logp = jax.nn.log_softmax(logits_fn(params, t, x))
    return jnp.take_along_axis(logp, jnp.asarray(y, jnp.int32)[:, None], axis=-1)[:, 0]

  def features(params, x):
    t = jnp.full(x.shape[:1], eps, jnp.float32)
    return net.apply({'params': params}, x, time_label(sde, t), train=False, features=True)[1]

  def correct(params, batch, rng):
    x, y = batch_x(batch), labels_of(batch)
    times = {'accuracy': eps}
    if sde is not None:
      times.update({f'accuracy_t{t:g}': t for t in EVAL_TIMES})
    out = {}
    for i, (name, t) in enumerate(times.items()):
      xt = noised(x, jnp.full(x.shape[:1], t), jax.random.fold_in(rng, i))
      out[name] = (jnp.argmax(logits_fn(params, t, xt), -1) == y).astype(jnp.float32)
    return out

  return Model(init=init, loss=loss, sample=None,
               extras=dict(logits=logits, log_prob_y=log_prob_y, correct=correct, features=features,
                           noise_sde=lambda: sde))
