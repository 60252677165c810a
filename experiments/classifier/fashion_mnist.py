"""A noise-conditional VP classifier p_t(y | x_t) on Fashion-MNIST, to guide
experiments/score_sde/fashion_mnist.py (Song et al. 2021, Sec. 5).

    python -m launch.train --config experiments/classifier/fashion_mnist.py --workdir runs/clf_fashion

Variants: ``smoke``; ``clean`` (noise-free, 1200 steps: the pinned evaluation asset
jaxgen/assets/classifier_fashion_mnist.npz). Runtime: ``clean`` about 16 minutes on this 2-core
CPU; the noise-conditional default was not run here.
Expected result (``clean``): test accuracy 0.859 on the 10,000 test images.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('classifier')
  config.seed = 0
  config.data.name = 'fashion_mnist'
  config.data.scale = 'symmetric'
  config.data.dequantize = False
  config.model.noise = 'vpsde'
  config.model.beta_min, config.model.beta_max = 0.1, 20.0
  n = config.model.classifier
  n.nf, n.ch_mult, n.num_res_blocks, n.dropout = 32, (1, 2, 2), 1, 0.1
  config.loss.eps = 1e-5
  config.optim.lr = 1e-3
  config.optim.warmup_steps = 200
  config.optim.grad_clip = 1.0
  config.optim.ema_rate = 0.995
  config.train.steps = 3000
  config.train.batch_size = 64
  config.train.log_every = 100
  config.train.checkpoint_every = 1000
  config.eval.metrics = ('loss', 'accuracy')
  config.eval.batch_size = 256
  config.eval.num_batches = 4
  config.eval.num_samples = 0

  def smoke(c):
    common.smoke(c, steps=4, batch_size=16, eval_batch_size=16, num_samples=0, every=2)
    c.model.classifier.nf = 8

  def clean(c):
    # The pinned evaluation asset (jaxgen/assets/classifier_fashion_mnist.npz): smaller and
    # shorter so it trains on the laptop CPU; no noise input.
    c.model.noise = 'none'
    c.model.classifier.nf = 16
    c.model.classifier.dropout = 0.0
    c.optim.warmup_steps = 100
    c.train.steps = 1200
    c.train.checkpoint_every = 600
    c.eval.num_batches = 8

  return cfg.select(config, arg, smoke=smoke, clean=clean)
