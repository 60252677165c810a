"""PixelCNN++ (default), PixelCNN and Gated PixelCNN on CIFAR-10 with the papers' settings.

    python -m launch.train --config experiments/pixelcnn/cifar10.py --workdir runs/pcnn_cifar_pp
    python -m launch.train --config experiments/pixelcnn/cifar10.py:gated --workdir runs/pcnn_cifar_gated

Variants: ``smoke``, ``pixelcnn``, ``gated``. Needs ``tfds build cifar10``.
Runtime: accelerator-scale (days on GPUs); not runnable on this 2-core CPU.
Expected result (the papers' test bits/dim, not reproduced here): PixelCNN 3.14, Gated PixelCNN
3.03, PixelCNN++ 2.92.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('pixelcnn')
  config.seed = 0
  config.data.name = 'tfds:cifar10'
  config.data.scale = 'levels'
  config.data.flip = False
  config.model.net = 'pixelcnn_pp'
  config.model.filters = 160
  config.model.blocks = 5
  config.model.scales = 3
  config.model.dropout = 0.5
  config.model.output = 'logistic_mixture'
  config.model.num_mixtures = 10
  config.loss.reduction = 'per_dim'
  config.optim.optimizer = 'adam'
  config.optim.lr = 1e-3
  config.optim.b1 = 0.95
  config.optim.b2 = 0.9995
  config.optim.decay = 'exponential'
  config.optim.decay_rate = 0.999995
  config.optim.grad_clip = 0.0
  config.optim.ema_rate = 0.9995
  config.train.steps = 500000
  config.train.batch_size = 64
  config.train.log_every = 500
  config.train.checkpoint_every = 10000
  config.eval.metrics = ('loss', 'nll', 'bpd')
  config.eval.batch_size = 100
  config.eval.use_ema = True
  config.sampling.method = 'fast'  # the cached sampler: the plain sampler's images, faster
  config.sampling.num_samples = 16

  def pixelcnn(c):
    c.model.net = 'pixelcnn'
    c.model.filters = 256
    c.model.blocks = 15
    c.model.output = 'categorical'
    c.model.dropout = 0.0
    c.optim.optimizer = 'rmsprop'
    c.optim.decay = 'none'
    c.optim.ema_rate = 0.0
    c.train.batch_size = 16
    c.sampling.method = 'fast'

  def gated(c):
    c.model.net = 'gated'
    c.model.filters = 384
    c.model.blocks = 20
    c.model.output = 'categorical'
    c.model.dropout = 0.0
    c.optim.b1 = 0.9
    c.optim.b2 = 0.999
    c.optim.decay = 'none'
    c.optim.ema_rate = 0.0
    c.sampling.method = 'fast'

  def smoke(c):
    common.smoke(c, steps=5, batch_size=16, eval_batch_size=32, num_samples=2)
    c.model.filters = 6
    c.model.blocks = 1
    c.model.num_mixtures = 2
    c.data.max_examples = 64

  return cfg.select(config, arg, smoke=smoke, pixelcnn=pixelcnn, gated=gated)
