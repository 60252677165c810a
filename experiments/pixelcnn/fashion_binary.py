"""PixelCNN and Gated PixelCNN on binarized Fashion-MNIST (Bernoulli pixels, exact likelihood).

    python -m launch.train --config experiments/pixelcnn/fashion_binary.py:gated --workdir runs/pcnn_fb_gated

Variants: ``smoke``, ``pixelcnn``, ``gated``, ``resample`` (binarization drawn per visit), ``long``.
eval/nll is -log P(x) in nats per image. Runtime: 15-22 minutes on this 2-core CPU for 2000
steps at batch 16.
Expected result: test NLL 112.2 nats per image (Gated, fixed binarization). No published
likelihood exists for binarized Fashion-MNIST.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('pixelcnn')
  config.seed = 0
  config.data.name = 'fashion_mnist'
  config.data.scale = 'levels'
  config.data.binarize = 'fixed'
  config.model.net = 'pixelcnn'
  config.model.filters = 32
  config.model.blocks = 5
  config.model.output = 'bernoulli'
  config.loss.reduction = 'per_image'
  config.optim.optimizer = 'adam'
  config.optim.lr = 1e-3
  config.optim.grad_clip = 0.0
  config.optim.ema_rate = 0.0
  config.train.steps = 2000
  config.train.batch_size = 16
  config.train.log_every = 100
  config.train.checkpoint_every = 1000
  config.eval.metrics = ('loss', 'nll', 'bpd')
  config.eval.batch_size = 500
  config.eval.use_ema = False
  config.sampling.method = 'fast'
  config.sampling.num_samples = 16

  def pixelcnn(c):
    c.model.net = 'pixelcnn'
    c.model.filters = 32

  def gated(c):
    c.model.net = 'gated'
    c.model.filters = 14

  def resample(c):
    c.data.binarize = 'resample'

  def long(c):
    c.train.steps *= 10
    c.train.checkpoint_every = 2000

  def smoke(c):
    common.smoke(c, steps=5, batch_size=16, eval_batch_size=64, num_samples=4)
    c.model.filters = 4
    c.model.blocks = 1
    c.data.max_examples = 256

  return cfg.select(config, arg, smoke=smoke, pixelcnn=pixelcnn, gated=gated, resample=resample,
                    long=long)
