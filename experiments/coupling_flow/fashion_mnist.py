"""Glow (default: 2 levels x 4 steps, 64 channels, LU 1x1 conv) and RealNVP on Fashion-MNIST.

    python -m launch.train --config experiments/coupling_flow/fashion_mnist.py --workdir runs/glow_fm

Data (255 x + u) / 256; eval/bpd = 8 - LL / (784 ln 2). Variants: ``smoke``, ``realnvp``
(laptop RealNVP), ``glow_additive`` (additive coupling), ``glow`` (Glow's width: 2 x 32 steps,
512 channels; for an accelerator; ``glow,glow_additive`` is its additive twin), ``vdeq``
(Flow++'s variational dequantizer trained jointly; eval/bpd_vdeq beside eval/bpd).
Runtime: 300 steps took 5 minutes on this 2-core CPU (1.2-2 steps/s, the eval 30 seconds),
so the default 2000 steps take about 20-30 minutes.
Expected result: test eval/bpd 6.06 after 300 steps, still falling (2000 not measured here).
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('coupling_flow')
  config.seed = 0
  config.data.name = 'fashion_mnist'
  config.data.scale = 'unit'
  config.data.dequantize = True
  config.model.flow = 'glow'
  config.model.levels = 2           # 28 = 4 x 7: two squeezes
  config.model.steps = 4
  config.model.hidden = 64
  config.model.res_blocks = 0
  config.model.coupling = 'affine'
  config.model.permutation = 'invconv_lu'
  config.model.actnorm = True
  config.model.logit_alpha = 0.0
  config.loss.reduction = 'per_dim'
  config.optim.optimizer = 'adam'
  config.optim.lr = 1e-3
  config.optim.warmup_steps = 200
  config.optim.grad_clip = 50.0
  config.optim.ema_rate = 0.0
  config.train.steps = 2000
  config.train.batch_size = 64
  config.train.log_every = 100
  config.train.checkpoint_every = 500
  config.eval.metrics = ('loss', 'nll', 'bpd')
  config.eval.batch_size = 500
  config.eval.use_ema = False
  config.sampling.num_samples = 64
  config.sampling.temperature = 0.7   # Glow's samples
  config.sampling.inpaint_mask = 'bottom_half'

  def smoke(c):
    common.smoke(c, steps=3, batch_size=16, eval_batch_size=64, num_samples=8)
    c.model.steps = 1
    c.model.hidden = 8
    c.data.max_examples = 500
    c.optim.warmup_steps = 0
    c.sampling.inpaint_steps = 5

  def realnvp(c):
    c.model.flow = 'realnvp'
    c.model.levels = 2            # RealNVP squeezes levels - 1 times
    c.model.steps = 3             # the paper's 3 checkerboard + 3 channel couplings, 4 at the end
    c.model.res_blocks = 2
    c.model.logit_alpha = 0.05    # the paper's logit map (its CIFAR-10 alpha)

  def glow(c):
    c.model.steps = 32
    c.model.hidden = 512
    c.train.steps = 100_000

  def glow_additive(c):
    c.model.coupling = 'additive'

  def vdeq(c):
    c.model.dequantizer.kind = 'variational'
    c.eval.metrics = tuple(c.eval.metrics) + ('bpd_vdeq',)

  return cfg.select(config, arg, smoke=smoke, realnvp=realnvp, glow=glow,
                    glow_additive=glow_additive, vdeq=vdeq)
