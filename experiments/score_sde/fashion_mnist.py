"""Score SDE (VP, continuous DSM) on Fashion-MNIST with a small DDPM++ U-Net.

    python -m launch.train --config experiments/score_sde/fashion_mnist.py --workdir runs/sde_fashion

Data in [-1, 1]; PC sampler (500 steps + Langevin). Variants: ``smoke``, ``ode``, ``cond``.
Runtime: 25-45 minutes on this 2-core CPU for 3000 steps.
Expected result: eval/loss 0.040 at step 3000; samples/step_3000.png shows clean, varied items.
Bits/dim of every family: experiments/tables/results/fashion_likelihood_laptop.md.
"""

from experiments import common
from jaxgen.runtime import config as cfg
from jaxgen.nets import unet


def get_config(arg=None):
  config = cfg.base('score_sde')
  config.seed = 0
  config.data.name = 'fashion_mnist'
  config.data.scale = 'symmetric'
  config.data.dequantize = False
  config.model.sde = 'vpsde'
  config.model.net = 'unet'
  config.model.unet = unet.small()
  config.model.unet.nf = 16
  config.model.unet.dropout = 0.1
  config.loss.reduce_mean = True
  config.optim.lr = 1e-3
  config.optim.warmup_steps = 200
  config.optim.grad_clip = 1.0
  config.optim.ema_rate = 0.995
  config.train.steps = 3000
  config.train.batch_size = 64
  config.train.log_every = 100
  config.train.checkpoint_every = 1000
  config.eval.metrics = ('loss',)
  config.eval.batch_size = 256
  config.eval.num_batches = 4
  config.eval.num_samples = 64
  config.sampling.method = 'pc'
  config.sampling.predictor = 'reverse_diffusion'
  config.sampling.corrector = 'langevin'
  config.sampling.snr = 0.16
  config.sampling.steps = 500
  config.sampling.num_samples = 64

  def smoke(c):
    common.smoke(c, steps=4, batch_size=16, eval_batch_size=16, num_samples=8, every=2)
    c.model.unet.nf = 8
    c.model.unet.attn_resolutions = ()
    c.sampling.steps = 4

  def ode(c):
    c.sampling.method = 'ode'
    c.sampling.solver = 'dopri5'

  def cond(c):
    common.class_conditional(c)

  return cfg.select(config, arg, smoke=smoke, ode=ode, cond=cond)
