"""1-Rectified flow on Fashion-MNIST with a small DDPM++ U-Net (dequantized data in [-1, 1]).

    python -m launch.train --config experiments/rectified_flow/fashion_mnist.py --workdir runs/rf_fashion

t = 0 noise, t = 1 data; eval/bpd is the dequantized bound -log p(x) / (784 ln 2) + 7.
Variants: ``smoke``, ``dopri5``, ``logit_normal``, ``mode``, ``shift2``, ``cond``, ``ot`` (minibatch
OT coupling; per class after ``cond``), ``reflow`` / ``reflow3`` / ``distill`` (rf_fashion's pairs).
Runtime: about 35 minutes on this 2-core CPU for 1500 steps.
Expected result: FD 0.442 in the pinned Fashion-MNIST classifier's features (256 samples, Euler
100 steps). Bits/dim of every family: experiments/tables/results/fashion_likelihood_laptop.md.
"""

from experiments import common
from jaxgen.runtime import config as cfg
from jaxgen.nets import unet


def get_config(arg=None):
  config = cfg.base('rectified_flow')
  config.seed = 0
  config.data.name = 'fashion_mnist'
  config.data.scale = 'symmetric'
  config.data.dequantize = True
  config.model.net = 'unet'
  config.model.unet = unet.small()
  config.model.unet.nf = 16
  config.model.unet.dropout = 0.1
  config.optim.lr = 1e-3
  config.optim.warmup_steps = 200
  config.optim.grad_clip = 1.0
  config.optim.ema_rate = 0.995
  config.train.steps = 1500
  config.train.batch_size = 64
  config.train.log_every = 100
  config.train.checkpoint_every = 500
  config.eval.metrics = ('loss', 'bpd', 'straightness', 'sliced_wasserstein')
  config.eval.batch_size = 256
  config.eval.num_batches = 4
  config.eval.num_samples = 256
  config.sampling.solver = 'euler'
  config.sampling.steps = 100
  config.sampling.num_samples = 64
  config.likelihood.solver = 'dopri5'
  config.likelihood.rtol = config.likelihood.atol = 1e-5
  config.likelihood.probes = 1

  def smoke(c):
    common.smoke(c, steps=4, batch_size=16, eval_batch_size=16, num_samples=8, every=2)
    c.model.unet.nf = 8
    c.model.unet.attn_resolutions = ()
    c.sampling.steps = 4
    c.likelihood.solver = 'euler'
    c.likelihood.steps = 4

  def dopri5(c):
    c.sampling.solver = 'dopri5'
    c.sampling.rtol = c.sampling.atol = 1e-5

  def logit_normal(c):
    c.loss.time_sampling = 'logit_normal'

  def mode(c):
    c.loss.time_sampling = 'mode'
    c.loss.mode_scale = 1.29

  def shift2(c):
    c.loss.shift = 2.0
    c.sampling.grid = 'shift'
    c.sampling.shift = 2.0

  def cond(c):
    common.class_conditional(c)

  def ot(c):
    c.data.x0.coupling = 'ot_label' if c.model.num_classes else 'ot'

  # reflow / reflow3 / distill: k-RF on the pairs of runs/rf_fashion (python -m launch.reflow
  # --workdir runs/rf_fashion); the source is train.init_from (an override moves the pairs too).
  reflow = common.reflow_variants(lambda c: 'runs/rf_fashion',
                                  metrics=('sliced_wasserstein', 'straightness'))

  return cfg.select(config, arg, smoke=smoke, cond=cond, **reflow, dopri5=dopri5,
                    logit_normal=logit_normal, mode=mode, shift2=shift2, ot=ot)
