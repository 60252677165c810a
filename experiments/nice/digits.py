"""NICE on scikit-learn's 8x8 digits (4 additive couplings, logistic prior, dequantized data).

    python -m launch.train --config experiments/nice/digits.py --workdir runs/nice_digits
    python -m launch.inpaint --workdir runs/nice_digits

Variants: ``smoke``, ``gaussian`` (Gaussian prior). Runtime: 1-2 minutes on this 2-core CPU.
Expected result: test eval/bpd 2.94 after 1000 steps (a uniform model scores log2(17) = 4.09;
longer runs overfit the 1500 images). No paper reports this set.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('nice')
  config.seed = 0
  config.data.name = 'digits'
  config.data.scale = 'unit'
  config.data.dequantize = True
  config.model.num_couplings = 4
  config.model.hidden = 256
  config.model.depth = 3
  config.model.prior = 'logistic'
  config.model.split = 'odd_even'
  config.model.scale_mult = 30.0
  config.optim.lr = 1e-3
  config.optim.b2 = 0.99
  config.optim.eps = 1e-4
  config.optim.grad_clip = 0.0
  config.optim.ema_rate = 0.0
  config.train.steps = 1000
  config.train.batch_size = 100
  config.train.log_every = 250
  config.train.checkpoint_every = 500
  config.eval.metrics = ('loss', 'nll', 'bpd')
  config.eval.batch_size = 297
  config.eval.use_ema = False
  config.sampling.num_samples = 64

  def smoke(c):
    common.smoke(c, steps=5, batch_size=32, eval_batch_size=64, num_samples=16)
    c.model.num_couplings = 2
    c.model.hidden = 32
    c.model.depth = 2
    c.sampling.inpaint_steps = 10

  def gaussian(c):
    c.model.prior = 'gaussian'

  return cfg.select(config, arg, smoke=smoke, gaussian=gaussian)
