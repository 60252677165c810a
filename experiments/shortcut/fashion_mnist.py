"""Shortcut model on Fashion-MNIST with a small DDPM++ U-Net (dequantized data in [-1, 1]).

    python -m launch.train --config experiments/shortcut/fashion_mnist.py --workdir runs/sc_fashion

t = 0 noise, t = 1 data; samples: 1 jump (``--config.sampling.steps=2``, 4, 8: more). Variants:
``smoke``, ``cond`` (class-conditional, classifier-free guidance w = 1 at sampling).
Runtime: about 2.6 s per step on this shared 2-core CPU (steps 50-100 of a 100-step run), so
about 65 minutes for the 1500 steps.
Expected result: measured only after 100 steps: FD 15.7 with one step (no shapes yet).
"""

from experiments import common
from jaxgen.nets import unet
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('shortcut')
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
    c.model.unet.ch_mult = (1, 2)   # two levels: the jvp doubles the U-Net's compile time
    c.eval.metrics = ('loss', 'sliced_wasserstein')

  def cond(c):
    common.class_conditional(c)

  return cfg.select(config, arg, smoke=smoke, cond=cond)
