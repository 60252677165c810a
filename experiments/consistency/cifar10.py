"""Consistency models on CIFAR-10 at the papers' scale (accelerator only), one and two steps.

    python -m launch.train --config experiments/consistency/cifar10.py --workdir runs/ct_cifar10

iCT (Song & Dhariwal 2023): NCSN++ (4 res blocks; iCT-deep 8), dropout 0.3, batch 1024, 400k
steps, Adam lr 1e-4 (b2 0.995), grid 10 -> 1280, lognormal (-1.1, 2.0), pseudo-Huber, EMA 0.99993
for evaluation. ``cd`` (Song et al. 2023; ``--config.loss.teacher_run=`` a run of
experiments/score_sde/ddpmpp_cont_vp.py): batch 512, 800k steps, lr 4e-4, EMA 0.9999, 18 levels,
Heun; a VP teacher (the paper's: EDM), pseudo-Huber (its best: LPIPS). The settings are the
appendices' as later papers cite them, not checked here. Variants: ``smoke``, ``cd``.
Runtime: accelerator-scale; not runnable on this CPU. Expected result (the papers', not
reproduced): FID 2.83 / 2.46 (iCT, 1 / 2 steps), 3.55 (CD with LPIPS, 1 step).
"""

from experiments import common
from jaxgen.nets import unet
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = common.few_step_cifar10('consistency', unet.ncsnpp_cifar10())
  config.model.unet.dropout = 0.3
  config.loss.method = 'ct'
  config.loss.s0, config.loss.s1 = 10, 1280
  config.optim.lr = 1e-4
  config.optim.b2 = 0.995
  config.optim.warmup_steps = 0
  config.optim.ema_rate = 0.99993
  config.train.steps = 400_000
  config.train.batch_size = 1024

  def cd(c):
    c.loss.method = 'cd'
    c.loss.teacher_run = 'runs/sde_cifar10'
    c.loss.s0 = c.loss.s1 = 17   # a fixed grid of 18 levels
    c.optim.lr, c.optim.b2 = 4e-4, 0.999
    c.optim.ema_rate = 0.9999
    c.train.steps = 800_000
    c.train.batch_size = 512

  return cfg.select(config, arg, smoke=common.few_step_cifar10_smoke, cd=cd)
