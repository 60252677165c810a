"""Shortcut model on a 2-D toy density: 1, 2, 4 and 8-step samples from one network.

    python -m launch.train --config experiments/shortcut/toy2d.py --workdir runs/sc_moons
    python -m launch.sample --workdir runs/sc_moons --config.sampling.steps=2

Variants: ``smoke``, ``checkerboard``, ``8gaussians``. t = 0 noise, t = 1 data, as the paper;
one network for every step count (sampling.steps: 1, 2, 4, ..., loss.max_steps).
Runtime: about 4 minutes on this 2-core CPU (4000 steps).
Expected result: eval/sliced_wasserstein 0.097 with one step; 0.091 with two, 0.093 with eight
(python -m launch.evaluate --workdir runs/sc_moons --config.sampling.steps=8).
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('shortcut')
  config.seed = 0
  config.data.name = 'toy2d:moons'
  config.data.scale = 'none'
  config.data.eval_size = 4096
  config.model.net = 'score_mlp'
  config.model.score_mlp.width = 256
  config.model.score_mlp.num_layers = 3
  config.optim.lr = 1e-3
  config.optim.warmup_steps = 100
  config.optim.ema_rate = 0.999
  config.train.steps = 4000
  config.train.batch_size = 256
  config.train.log_every = 200
  config.train.checkpoint_every = 1000
  config.eval.metrics = ('loss', 'sliced_wasserstein')
  config.eval.batch_size = 1024
  config.eval.num_samples = 1024
  config.sampling.steps = 1
  config.sampling.num_samples = 1024

  def smoke(c):
    common.smoke(c, steps=20, batch_size=32, eval_batch_size=256, num_samples=64, every=10)
    c.model.score_mlp.width = 32
    c.model.score_mlp.num_layers = 1

  def data(name):
    return lambda c: setattr(c.data, 'name', 'toy2d:' + name)

  return cfg.select(config, arg, smoke=smoke, checkerboard=data('checkerboard'),
                    **{'8gaussians': data('8gaussians')})
