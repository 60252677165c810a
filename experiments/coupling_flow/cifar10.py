"""Glow (default) and RealNVP on CIFAR-10 with the papers' architectures.

    python -m launch.train --config experiments/coupling_flow/cifar10.py --workdir runs/glow_cifar

Glow: 3 levels x 32 steps, 512 channels, affine coupling, LU 1x1 conv, Adam 1e-3 (the openai/glow
README's CIFAR-10 command, without its learned top prior). ``realnvp``: 3 levels (3 + 3 couplings,
4 at the last), 8 residual blocks of 64 channels, logit alpha 0.05 (Dinh et al. 2017, sec. 4.1,
without its batch norm). Variants: ``smoke``, ``realnvp``. Needs ``tfds build cifar10``.
Runtime: accelerator-scale (days on GPUs); not runnable on this 2-core CPU.
Expected result (the papers' test bits/dim, not reproduced here): Glow 3.35 (Kingma & Dhariwal
2018, Table 2), RealNVP 3.49 (Dinh et al. 2017, Table 1); experiments/tables/references.py.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('coupling_flow')
  config.seed = 0
  config.data.name = 'tfds:cifar10'
  config.data.scale = 'unit'
  config.data.dequantize = True
  config.data.flip = True
  config.model.flow = 'glow'
  config.model.levels = 3
  config.model.steps = 32
  config.model.hidden = 512
  config.model.res_blocks = 0
  config.model.coupling = 'affine'
  config.model.permutation = 'invconv_lu'
  config.model.actnorm = True
  config.model.logit_alpha = 0.0
  config.loss.reduction = 'per_dim'
  config.optim.optimizer = 'adam'
  config.optim.lr = 1e-3
  config.optim.warmup_steps = 7800    # Glow warms the rate up over 10 epochs
  config.optim.grad_clip = 0.0
  config.optim.ema_rate = 0.0
  config.train.steps = 1_000_000
  config.train.batch_size = 64
  config.train.log_every = 500
  config.train.checkpoint_every = 10_000
  config.eval.metrics = ('loss', 'nll', 'bpd')
  config.eval.batch_size = 500
  config.eval.use_ema = False
  config.sampling.num_samples = 64
  config.sampling.temperature = 0.7
  config.sampling.inpaint_mask = 'bottom_half'

  def smoke(c):
    common.smoke(c, steps=2, batch_size=8, eval_batch_size=16, num_samples=8)
    c.model.levels = 2
    c.model.steps = 1
    c.model.hidden = 8
    c.optim.warmup_steps = 0
    c.sampling.inpaint_steps = 5

  def realnvp(c):
    c.model.flow = 'realnvp'
    c.model.levels = 3
    c.model.steps = 3
    c.model.hidden = 64
    c.model.res_blocks = 8
    c.model.logit_alpha = 0.05
    c.optim.warmup_steps = 0

  return cfg.select(config, arg, smoke=smoke, realnvp=realnvp)
