"""PixelCNN and Gated PixelCNN on 8-bit Fashion-MNIST (256-way softmax, exact likelihood).

    python -m launch.train --config experiments/pixelcnn/fashion_8bit.py:gated --workdir runs/pcnn_f8_gated

eval/bpd = -log2 P(x) / 784 on the test split. Variants: ``smoke``, ``pixelcnn``, ``gated``,
``pp``, ``long`` (10x the steps). Runtime: 12-19 minutes on this 2-core CPU for 2000 steps at batch 16.
Expected result: test 3.27 bits/dim (Gated) after 2000 steps, far from the papers' budgets.
Every family on this data: experiments/tables/results/fashion_likelihood_laptop.md.
2000 of the 60000 training images are held out as a validation split (``data.validation``;
enough to tell checkpoints apart, cheap to measure at each save): its bits/dim is logged as
``val/bpd`` at each of the 10 checkpoints (every 200 steps; 20 with ``long``), whose best is
always kept (a table row with ``step='best'`` evaluates it: early stopping by validation bpd).
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('pixelcnn')
  config.seed = 0
  config.data.name = 'fashion_mnist'
  config.data.scale = 'levels'
  config.data.validation = 2000
  config.model.net = 'pixelcnn'
  config.model.filters = 32
  config.model.blocks = 5
  config.model.output = 'categorical'
  config.loss.reduction = 'per_dim'
  config.optim.optimizer = 'adam'
  config.optim.lr = 1e-3
  config.optim.grad_clip = 0.0
  config.optim.ema_rate = 0.0
  config.train.steps = 2000
  config.train.batch_size = 16
  config.train.log_every = 100
  config.train.checkpoint_every = 200
  config.train.validation_metric = 'bpd'
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
    c.model.filters = 16

  def pp(c):
    c.model.net = 'pixelcnn_pp'
    c.model.filters = 32
    c.model.blocks = 1
    c.model.scales = 3
    c.model.dropout = 0.1
    c.model.output = 'logistic_mixture'
    c.model.num_mixtures = 5
    c.sampling.method = 'fast'  # the cached sampler: the plain sampler's images, faster

  def long(c):
    c.train.steps *= 10
    c.train.checkpoint_every = 1000

  def smoke(c):
    common.smoke(c, steps=5, batch_size=16, eval_batch_size=64, num_samples=4)
    c.model.filters = 4
    c.model.blocks = 1
    c.model.num_mixtures = 2
    c.data.max_examples = 256
    c.data.validation = 32

  return cfg.select(config, arg, smoke=smoke, pixelcnn=pixelcnn, gated=gated, pp=pp, long=long)
