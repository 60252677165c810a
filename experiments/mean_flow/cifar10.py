"""MeanFlow on CIFAR-10 at the paper's scale (accelerator only), one jump.

    python -m launch.train --config experiments/mean_flow/cifar10.py --workdir runs/mf_cifar10

Geng et al. 2025, unconditional CIFAR-10: a DDPM++-style U-Net (here the DDPM++ cont. preset of
experiments/rectified_flow/cifar10.py), dropout 0.2, batch 1024, 800k steps, Adam lr 6e-4,
EMA 0.99995, 75% of pairs with r != t, logit-normal times (-2.0, 2.0 in the paper's direction),
adaptive weight p = 0.75; settings as cited by reimplementations, not checked against the
paper's appendix here. t = 0 noise, t = 1 data (the paper's mean -2.0 is our +2.0).
Variants: ``smoke``. Needs ``tfds build cifar10``.
Runtime: accelerator-scale; not runnable on this CPU. Expected result (the paper's, not
reproduced): FID 2.92 with one network evaluation.
"""

from experiments import common
from jaxgen.nets import unet
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = common.few_step_cifar10('mean_flow', unet.ddpmpp_cifar10())
  config.model.unet.dropout = 0.2
  config.loss.time_sampling = 'logit_normal'
  config.loss.logit_mean, config.loss.logit_std = 2.0, 2.0
  config.loss.ratio = 0.75
  config.loss.weight_power = 0.75
  config.optim.lr = 6e-4
  config.optim.warmup_steps = 10_000
  config.optim.ema_rate = 0.99995
  config.train.steps = 800_000
  config.train.batch_size = 1024
  return cfg.select(config, arg, smoke=common.few_step_cifar10_smoke)
