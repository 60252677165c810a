"""Consistency models on Fashion-MNIST with a small DDPM++ U-Net (data in [-1, 1]), one step.

    python -m launch.train --config experiments/consistency/fashion_mnist.py --workdir runs/ct_fm

iCT consistency training; ``cd``: distillation of a score-SDE run, ``--config.loss.teacher_run=
runs/sde_fashion`` (experiments/score_sde/fashion_mnist.py), 18 levels, Heun teacher steps.
Variants: ``smoke``, ``cd``. ``--config.sampling.steps=2``: two steps.
Runtime: about 1.7 s per CT step on this 2-core CPU (steps 10-30 of a 30-step run), so about
45 minutes for the 1500 steps; a CD step adds two teacher evaluations.
Expected result: not measured yet (only 30 steps on stand-in data, no quality number).
"""

from experiments import common
from jaxgen.nets import unet
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('consistency')
  config.seed = 0
  config.data.name = 'fashion_mnist'
  config.data.scale = 'symmetric'
  config.data.dequantize = False
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
  config.eval.metrics = ('loss', 'fd', 'sliced_wasserstein')
  config.eval.batch_size = 256
  config.eval.num_batches = 4
  config.eval.num_samples = 256
  config.sampling.steps = 1
  config.sampling.num_samples = 64

  def smoke(c):
    common.smoke(c, steps=4, batch_size=16, eval_batch_size=16, num_samples=8, every=2)
    c.model.unet.nf = 8
    c.model.unet.attn_resolutions = ()
    c.model.unet.ch_mult = (1, 2)
    c.eval.metrics = ('loss', 'sliced_wasserstein')

  def cd(c):
    c.loss.method = 'cd'
    c.loss.teacher_run = 'runs/sde_fashion'
    c.loss.s0 = c.loss.s1 = 17   # a fixed grid of 18 levels (Song et al. 2023)

  return cfg.select(config, arg, smoke=smoke, cd=cd)
