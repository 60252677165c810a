"""The PixelCNN family: PixelCNN, Gated PixelCNN and PixelCNN++ with exact discrete likelihoods.

An autoregressive model of integer images x in {0..K-1}^(H x W x C), factorised in raster order
(rows top to bottom, pixels left to right, then channels R, G, B inside a pixel):

    log P(x) = sum_{i,j} sum_c log P(x_{ijc} | x_{<(i,j)}, x_{ij,<c}),

each conditional read from one network evaluation (`jaxgen.nets.pixelcnn`, `.pixelcnn_pp`).

Data convention. The model needs integer data: ``spec.num_levels`` must be set (K = 2 after
binarization, 17 for `digits`, 256 for 8-bit images) and the data must not be dequantized.
``batch['x']`` may use any scale of `jaxgen.data` ('levels' recommended: the integers 0..K-1 as
float32; 'unit' and 'symmetric' work too); the model maps it back to integers with
``k = round((x - low) / (high - low) * (K - 1))`` and feeds the network ``2k/(K-1) - 1`` on
[-1, 1]. Samples are returned in the same space as ``batch['x']``.

Outputs (``model.output``): 'bernoulli' (K = 2 only; sigmoid per channel), 'categorical' (a K-way
softmax per channel: the paper's 256-way softmax), 'logistic_mixture' (PixelCNN++'s discretized
logistic mixture; on PixelCNN / Gated PixelCNN one mixture per channel, on PixelCNN++ one per pixel
with the RGB coupling), 'auto' (bernoulli for K = 2, else categorical, and logistic_mixture for
PixelCNN++). See `jaxgen.distributions.discretized_logistic`.

Units. ``log_prob`` (``discrete=True``) is log P(x) in nats per image; bits/dim = -log P /
(D ln 2) with D = H W C. The loss is the batch mean of -log P(x): in nats per dimension
(``loss.reduction='per_dim'``, default; the optimizer sees an O(1) scale) or nats per image
('per_image'). Metrics (batch means): ``nll_nats`` (per image) and ``bpd``.

Class conditioning (``model.num_classes > 0``) needs ``batch['label']``, in the batch dict that
``log_prob(params, batch, rng)`` takes like every family's; or use
``extras['log_prob_given'](params, x, label)``.
Sampling (`Sampling`, made once by ``model.sampling_settings(section)``): ``sampling.method``
'fast' (cached, Ramachandran et al. 2017) or 'plain' (naive), both jit-compiled and giving
identical samples for the same key (`jaxgen.models.pixelcnn.autoregressive`); conditional models
sample labels ``i % num_classes`` unless ``sampling.label >= 0``. ``info['nfe']`` counts the
sequential network steps per sample (H W C for per-channel nets, H W for PixelCNN++): the plain
sampler spends a full-image network evaluation on each, the fast one a single position's.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import ml_collections

from jaxgen.distributions.discretized_logistic import PixelOutput
from jaxgen.metrics import bpd as bpd_lib
from jaxgen.models.base import Model, batch_x, merged_section, typed_settings
from jaxgen.nets.pixelcnn import GatedPixelCNN, PixelCNN
from jaxgen.nets.pixelcnn_pp import PixelCNNPP
from jaxgen.models.pixelcnn import autoregressive

NET_CLASSES = {'pixelcnn': PixelCNN, 'gated': GatedPixelCNN, 'pixelcnn_pp': PixelCNNPP}
NETS = tuple(NET_CLASSES)
OUTPUTS = ('auto', 'bernoulli', 'categorical', 'logistic_mixture')


def defaults() -> ml_collections.ConfigDict:
  """Schema and defaults of the ``model``, ``loss`` and ``sampling`` sections."""
  c = ml_collections.ConfigDict()
  c.model = ml_collections.ConfigDict(dict(
      net='gated',             # 'pixelcnn' | 'gated' | 'pixelcnn_pp'
      filters=64,              # pixelcnn: residual width 2h; gated: stack width p; pp: F (ref. 160)
      blocks=7,                # pixelcnn: residual blocks; gated: gated layers; pp: resnets/stage
      head_filters=0,          # width of the output 1x1 layers (0: = filters); pixelcnn / gated
      scales=3,                # pixelcnn_pp: resolutions of the U (ref. 3)
      dropout=0.0,             # pixelcnn_pp only (ref. 0.5)
      output='auto',           # 'auto' | 'bernoulli' | 'categorical' | 'logistic_mixture'
      num_mixtures=10,         # logistic mixture components (ref. 10)
      fallback=True,           # the reference's log pdf - log((K-1)/2) fallback for bins < 1e-5
      num_classes=0,           # > 0: class-conditional (needs labels)
  ))
  c.loss = ml_collections.ConfigDict(dict(
      reduction='per_dim',     # 'per_dim' (nats per dimension) | 'per_image' (nats per image)
  ))
  c.sampling = ml_collections.ConfigDict(dict(
      method='fast',           # 'fast' (cached) | 'plain' (full network per step)
      num_samples=64,
      label=-1,                # conditional models: -1 cycles through the classes
  ))
  return c


def choices() -> dict:
  return {
      'model.net': NETS,
      'model.output': OUTPUTS,
      'loss.reduction': ('per_dim', 'per_image'),
      'sampling.method': ('fast', 'plain'),
  }


def ranges() -> dict:
  return {
      'model.filters': (lambda v: v >= 1, '>= 1'),
      'model.blocks': (lambda v: v >= 1, '>= 1'),
      'model.scales': (lambda v: v >= 1, '>= 1'),
      'model.dropout': (lambda v: 0 <= v < 1, 'in [0, 1)'),
      'model.num_mixtures': (lambda v: v >= 1, '>= 1'),
      'model.num_classes': (lambda v: v >= 0, '>= 0'),
      'sampling.num_samples': (lambda v: v >= 1, '>= 1'),
  }


def check(config) -> None:
  """Refuses (ValueError, at validation) a sampler the network cannot run: the cached 'fast'
  sampler needs a network with the fast-path methods (all three nets have them)."""
  mc = config.model
  missing = autoregressive.fast_path_missing(NET_CLASSES[mc.net])
  if config.sampling.method == 'fast' and missing:
    raise ValueError(f"config.sampling.method='fast' (the cached sampler) does not exist for "
                     f'model.net={mc.net!r} ({NET_CLASSES[mc.net].__name__} lacks '
                     f"{', '.join(missing)}); set --config.sampling.method=plain")


def make_net(mc, channels: int, num_levels: int):
  """(flax module, PixelOutput) for the model config section `mc`."""
  per_channel = mc.net != 'pixelcnn_pp'
  kind = mc.output
  if kind == 'auto':
    kind = 'logistic_mixture' if not per_channel else (
        'bernoulli' if num_levels == 2 else 'categorical')
  output = PixelOutput(kind, channels, num_levels, mc.num_mixtures, per_channel, mc.fallback)
  if mc.net == 'pixelcnn':
    net = PixelCNN(channels, output.size, mc.filters, mc.blocks, mc.head_filters, mc.num_classes)
  elif mc.net == 'gated':
    net = GatedPixelCNN(channels, output.size, mc.filters, mc.blocks, mc.head_filters,
                        mc.num_classes)
  elif mc.net == 'pixelcnn_pp':
    net = PixelCNNPP(channels, output.size, mc.filters, mc.blocks, mc.scales, mc.dropout,
                     mc.num_classes)
  else:
    raise ValueError(f'config.model.net={mc.net!r}; choose one of {NETS}')
  return net, output


@dataclasses.dataclass(frozen=True)
class Sampling:
  """The typed ``sampling`` settings: ``method`` 'fast' | 'plain' and ``label`` (>= 0: that class
  for every sample of a conditional model; -1: ``i % num_classes``)."""

  method: str = 'fast'
  label: int = -1


def build(config, spec) -> Model:
  mc = config.model
  if spec.num_levels is None:
    raise ValueError(f'the PixelCNN family models integer images; {spec.name} is continuous '
                     '(spec.num_levels is None)')
  if spec.dequantized:
    raise ValueError('the PixelCNN family needs the integer data: set data.dequantize=False '
                     "(and data.scale='levels')")
  if len(spec.shape) != 3:
    raise ValueError(f'the PixelCNN family needs images [H, W, C]; got shape {spec.shape}')
  if mc.num_classes and not spec.num_classes:
    raise ValueError(f'model.num_classes={mc.num_classes} but {spec.name} has no labels')
  h, w, c = spec.shape
  k = spec.num_levels
  dim = h * w * c
  low, high = float(spec.low), float(spec.high)
  net, output = make_net(mc, c, k)
  conditional = mc.num_classes > 0

  def to_int(x):
    return jnp.clip(jnp.round((x - low) / (high - low) * (k - 1)), 0, k - 1).astype(jnp.int32)

  def from_int(xi):
    return (low + xi.astype(jnp.float32) * ((high - low) / (k - 1))).astype(jnp.float32)

  def to_sym(xi):
    return xi.astype(jnp.float32) * (2.0 / (k - 1)) - 1.0

  def labels_of(batch, n):
    if not conditional:
      return None
    if 'label' not in batch:
      raise ValueError('a class-conditional PixelCNN needs batch["label"]')
    return batch['label'].astype(jnp.int32)[:n]

  def init(rng, x_example):
    xi = to_int(x_example)
    label = jnp.zeros((xi.shape[0],), jnp.int32) if conditional else None
    return net.init({'params': rng, 'dropout': rng}, to_sym(xi), label)['params']

  def _log_prob(params, x, label, rng, train):
    xi = to_int(x)
    rngs = {'dropout': rng} if (train and rng is not None) else {}
    out = net.apply({'params': params}, to_sym(xi), label, train, rngs=rngs)
    return output.log_prob(out, xi).sum(axis=(1, 2))

  def log_prob_given(params, x, label, rng=None):
    return _log_prob(params, x, label, rng, False)

  def log_prob(params, batch, rng=None):
    # The batch dict of the Model contract; a class-conditional model reads its labels there.
    x = batch_x(batch)
    return _log_prob(params, x, labels_of(batch, x.shape[0]), rng, False)

  def loss(params, batch, rng, train=True):
    x = batch['x']
    lp = _log_prob(params, x, labels_of(batch, x.shape[0]), rng, train)
    nll = -lp.mean()
    value = nll / dim if config.loss.reduction == 'per_dim' else nll
    return value, {'nll_nats': nll, 'bpd': jnp.mean(bpd_lib.bits_per_dim(lp, spec, discrete=True))}

  def sampling_settings(value=None) -> Sampling:
    """The `Sampling` of the run's section with ``value`` (a dict of some keys) over it."""
    if isinstance(value, Sampling):
      return value
    s = merged_section(config.sampling, value)
    return Sampling(method=str(s['method']), label=int(s.get('label', -1)))

  def sample(params, rng, n, sampling: Sampling):
    typed_settings(sampling, Sampling, 'pixelcnn')
    label = None
    if conditional:
      label = (jnp.full((n,), sampling.label, jnp.int32) if sampling.label >= 0
               else jnp.arange(n, dtype=jnp.int32) % mc.num_classes)
    variables = {'params': params}
    if sampling.method == 'fast':
      xi = autoregressive.fast(net, variables, output, (h, w, c), rng, n, label)
    elif sampling.method == 'plain':
      xi = autoregressive.plain(lambda x, l: net.apply(variables, x, l), output, (h, w, c), rng,
                                n, label)
    else:
      raise ValueError(f"sampling.method={sampling.method!r}; choose 'fast' or 'plain'")
    nfe = autoregressive.network_evaluations(output, (h, w, c), sampling.method)
    return from_int(xi), {'nfe': jnp.asarray(nfe, jnp.int32)}

  extras = {'log_prob_given': log_prob_given, 'to_int': to_int, 'from_int': from_int,
            'net': lambda: net, 'output': lambda: output}
  return Model(init=init, loss=loss, sample=sample, log_prob=log_prob,
               discrete=True, extras=extras, sampling_settings=sampling_settings,
               sampling_label=lambda sampling: sampling.method)
