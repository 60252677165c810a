"""Shortcut model on CIFAR-10 at paper scale (accelerator only): 1, 2, 4, 8 steps.

    python -m launch.train --config experiments/shortcut/cifar10.py --workdir runs/sc_cifar10

Frans, Hafner, Levine, Abbeel 2024 train DiT-B on CelebA-HQ 256 and ImageNet 256 and report no
CIFAR-10 run; this config takes their recipe (1/4 of each batch on self-consistency targets,
finest step 1/128, AdamW lr 1e-4, weight decay 0.1, EMA 0.999) onto the DDPM++ cont. U-Net of
experiments/rectified_flow/cifar10.py at its batch (128), 800k steps: a stand-in, not the paper's
setting (the recipe's values as cited by reimplementations, not checked here).
t = 0 noise, t = 1 data. Variants: ``smoke``. Needs ``tfds build cifar10``.
Runtime: accelerator-scale; not runnable on this CPU. Expected result: no paper number.
"""

from experiments import common
from jaxgen.nets import unet
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = common.few_step_cifar10('shortcut', unet.ddpmpp_cifar10())
  config.model.unet.dropout = 0.1
  config.loss.consistency_fraction = 0.25
  config.loss.max_steps = 128
  config.optim.optimizer = 'adamw'
  config.optim.lr = 1e-4
  config.optim.weight_decay = 0.1
  config.optim.warmup_steps = 5000
  config.optim.ema_rate = 0.999
  config.train.steps = 800_000
  config.train.batch_size = 128
  return cfg.select(config, arg, smoke=common.few_step_cifar10_smoke)
