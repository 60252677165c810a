"""Consistency training (iCT) on a 2-D toy density: one-step samples.

    python -m launch.train --config experiments/consistency/toy2d.py --workdir runs/ct_moons
    python -m launch.sample --workdir runs/ct_moons --config.sampling.steps=2

EDM sigma space (sigma_min 0.002 at the data, sigma_max 80); grid 10 -> 1280 intervals over the
run, lognormal levels, pseudo-Huber loss. Variants: ``smoke``, ``checkerboard``.
Runtime: 25-40 steps per second on this 2-core CPU (steps 100-400 of a 400-step run), so
about 3 minutes for the 4000 steps. Expected result: measured only after 400 steps:
eval/sliced_wasserstein 0.885 with one step (the 4000-step value is not measured yet).
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('consistency')
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

  def checkerboard(c):
    c.data.name = 'toy2d:checkerboard'

  return cfg.select(config, arg, smoke=smoke, checkerboard=checkerboard)
