"""NICE on 2-D toy densities (toy2d:moons by default): couplings that shear but never change
volume locally.

    python -m launch.train --config experiments/nice/toy2d.py --workdir runs/nice_moons

Variants: ``smoke``, ``checkerboard``, ``8gaussians``, ``swissroll``, ``gmm`` (closed-form
density: compare eval/nll with its entropy), ``logistic`` (logistic prior).
Runtime: about 2 minutes on this 2-core CPU for 3000 steps.
Expected result: both moons in samples/step_3000.png, eval/nll 1.87 nats per point.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('nice')
  config.seed = 0
  config.data.name = 'toy2d:moons'
  config.data.scale = 'none'
  config.data.eval_size = 4096
  config.model.num_couplings = 8
  config.model.hidden = 64
  config.model.depth = 3
  config.model.prior = 'gaussian'
  config.model.split = 'odd_even'
  config.model.kernel_init = 'he'
  config.model.init_range = 0.0
  config.optim.lr = 1e-3
  config.optim.grad_clip = 0.0
  config.optim.ema_rate = 0.0
  config.train.steps = 3000
  config.train.batch_size = 256
  config.train.log_every = 250
  config.train.checkpoint_every = 1000
  config.eval.metrics = ('loss', 'nll', 'sliced_wasserstein')
  config.eval.batch_size = 1024
  config.eval.num_samples = 1024
  config.eval.use_ema = False
  config.sampling.num_samples = 1024

  def smoke(c):
    common.smoke(c, steps=5, batch_size=32, eval_batch_size=256, num_samples=64)
    c.model.num_couplings = 2
    c.model.hidden = 32
    c.model.depth = 1

  def data(name):
    return lambda c: setattr(c.data, 'name', 'toy2d:' + name)

  def logistic(c):
    c.model.prior = 'logistic'

  return cfg.select(config, arg, smoke=smoke, checkerboard=data('checkerboard'),
                    swissroll=data('swissroll'), gmm=data('gmm'), logistic=logistic,
                    **{'8gaussians': data('8gaussians')})
