"""1-Rectified flow on a 2-D toy density (the default experiment), then reflow and distillation.

    python -m launch.train --config experiments/rectified_flow/toy2d.py --workdir runs/rf_moons
    python -m launch.reflow --workdir runs/rf_moons --num 20000 --config.sampling.solver=dopri5
    python -m launch.train --config experiments/rectified_flow/toy2d.py:reflow --workdir runs/rf_moons_2rf

Variants: ``smoke``, ``checkerboard``, ``8gaussians``, ``swissroll``, ``gmm`` (closed-form
density), ``logit_normal``, ``ot`` (minibatch OT coupling, `jaxgen.data.ot_coupling`);
``reflow``, ``reflow3``, ``distill`` read ``train.init_from``
(runs/rf_<density>, or its _2rf run) and its pairs (`experiments.common.reflow_variants`).
Runtime: about 1 minute on this 2-core CPU (4000 steps); the reflow chain a few minutes more.
Expected result: samples/step_4000.png shows the two moons; eval/sliced_wasserstein 0.106.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('rectified_flow')
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
  config.eval.metrics = ('loss', 'sliced_wasserstein', 'straightness')
  config.eval.batch_size = 1024
  config.eval.num_samples = 1024
  config.sampling.solver = 'euler'
  config.sampling.steps = 100
  config.sampling.num_samples = 1024

  def smoke(c):
    common.smoke(c, steps=20, batch_size=32, eval_batch_size=256, num_samples=64, every=10)
    c.model.score_mlp.width = 32
    c.model.score_mlp.num_layers = 1
    c.sampling.steps = 4

  def data(name):
    return lambda c: setattr(c.data, 'name', 'toy2d:' + name)

  def gmm(c):
    c.data.name = 'toy2d:gmm'
    c.eval.metrics = ('loss', 'sliced_wasserstein', 'nll')
    c.sampling.solver = 'dopri5'

  def logit_normal(c):
    c.loss.time_sampling = 'logit_normal'

  def ot(c):
    c.data.x0.coupling = 'ot'

  def root(c):
    """The 1-RF workdir of this density: runs/rf_moons, runs/rf_checkerboard, ..."""
    return 'runs/rf_' + c.data.name.split(':', 1)[1]

  reflow = common.reflow_variants(root, metrics=('sliced_wasserstein', 'straightness'))

  return cfg.select(config, arg, smoke=smoke, checkerboard=data('checkerboard'),
                    swissroll=data('swissroll'), gmm=gmm, logit_normal=logit_normal, ot=ot,
                    **reflow, **{'8gaussians': data('8gaussians')})
