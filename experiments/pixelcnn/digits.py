"""Gated PixelCNN (default), PixelCNN and PixelCNN++ on 8x8 digits (17 levels, exact likelihood).

    python -m launch.train --config experiments/pixelcnn/digits.py --workdir runs/pcnn_digits

Variants: ``smoke``, ``pixelcnn``, ``pp``. Runtime: 3-5 minutes on this 2-core CPU.
150 of the 1500 training images are held out as a validation split (``data.validation``): its
bits/dim is logged as ``val/bpd`` at each of the 15 checkpoints, whose best is always kept (a
table row with ``step='best'`` evaluates it: early stopping by validation bpd).
Expected result: test bits/dim well below the uniform model's log2(17) = 4.09; samples look like
blurry digits. The measured figures: experiments/tables/results/autoregressive_flow_nll_laptop.md.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('pixelcnn')
  config.seed = 0
  config.data.name = 'digits'
  config.data.scale = 'levels'
  config.data.validation = 150
  config.model.net = 'gated'
  config.model.filters = 32
  config.model.blocks = 5
  config.model.output = 'categorical'
  config.optim.lr = 1e-3
  config.optim.grad_clip = 0.0
  config.optim.ema_rate = 0.0
  config.train.steps = 3000
  config.train.batch_size = 64
  config.train.log_every = 200
  config.train.checkpoint_every = 200
  config.train.validation_metric = 'bpd'
  config.eval.metrics = ('loss', 'nll', 'bpd')
  config.eval.batch_size = 297
  config.eval.use_ema = False
  config.sampling.num_samples = 64

  def pixelcnn(c):
    c.model.net = 'pixelcnn'
    c.model.filters = 64

  def pp(c):
    c.model.net = 'pixelcnn_pp'
    c.model.filters = 32
    c.model.blocks = 2
    c.model.scales = 2
    c.model.dropout = 0.1
    c.model.output = 'logistic_mixture'
    c.model.num_mixtures = 5
    c.sampling.method = 'fast'  # the cached sampler: the plain sampler's images, faster

  def smoke(c):
    common.smoke(c, steps=5, batch_size=16, eval_batch_size=64, num_samples=4)
    c.model.filters = 4
    c.model.blocks = 1

  return cfg.select(config, arg, smoke=smoke, pixelcnn=pixelcnn, pp=pp)
