"""A noise-conditional VP classifier p_t(y | x_t) on 8x8 digits, to guide
experiments/score_sde/digits.py (Song et al. 2021, Sec. 5).

    python -m launch.train --config experiments/classifier/digits.py --workdir runs/clf_digits
    python -m launch.sample --workdir runs/sde_digits --config.sampling.classifier=runs/clf_digits \\
        --config.sampling.classifier_scale=1 --config.sampling.label=3

Variants: ``smoke``; ``clean`` (noise-free; exported as jaxgen/assets/classifier_digits.npz with
``python -m launch.export_classifier``). Runtime: about 5 minutes on this 2-core CPU.
Expected result: eval/accuracy 0.946 on clean test images, falling to chance (0.1) by t = 0.75.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('classifier')
  config.seed = 0
  config.data.name = 'digits'
  config.data.scale = 'symmetric'
  config.data.dequantize = False
  config.model.noise = 'vpsde'
  config.model.beta_min, config.model.beta_max = 0.1, 20.0
  n = config.model.classifier
  n.nf, n.ch_mult, n.num_res_blocks, n.dropout = 16, (1, 2, 2), 1, 0.1
  config.loss.eps = 1e-5
  config.optim.lr = 1e-3
  config.optim.warmup_steps = 100
  config.optim.grad_clip = 1.0
  config.optim.ema_rate = 0.995
  config.train.steps = 1500
  config.train.batch_size = 64
  config.train.log_every = 100
  config.train.checkpoint_every = 500
  config.eval.metrics = ('loss', 'accuracy')
  config.eval.batch_size = 297
  config.eval.num_samples = 0

  def smoke(c):
    common.smoke(c, steps=4, batch_size=16, eval_batch_size=16, num_samples=0, every=2)
    c.model.classifier.nf = 8
    c.model.classifier.num_res_blocks = 1

  def clean(c):
    c.model.noise = 'none'

  return cfg.select(config, arg, smoke=smoke, clean=clean)
