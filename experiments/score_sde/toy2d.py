"""Score SDE (VP, continuous DSM) on a 2-D toy density (checkerboard) with the score MLP.

    python -m launch.train --config experiments/score_sde/toy2d.py --workdir runs/sde_checkerboard

PC sampler (reverse diffusion + Langevin, 500 steps). Variants: ``smoke``, ``moons``,
``8gaussians``, ``gmm``, ``subvp``, ``ve``, ``ode`` (PF-ODE sampling).
Runtime: about 5 minutes on this 2-core CPU for 4000 steps.
Expected result: the 8 squares in samples/step_4000.png; eval/sliced_wasserstein 0.161 (the
metric's floor, two draws of the data, is about 0.12).
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('score_sde')
  config.seed = 0
  config.data.name = 'toy2d:checkerboard'
  config.data.scale = 'none'
  config.data.eval_size = 4096
  config.model.sde = 'vpsde'
  config.model.net = 'score_mlp'
  config.model.score_mlp.width = 256
  config.model.score_mlp.num_layers = 3
  config.loss.reduce_mean = True
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
  config.sampling.method = 'pc'
  config.sampling.predictor = 'reverse_diffusion'
  config.sampling.corrector = 'langevin'
  config.sampling.snr = 0.16
  config.sampling.steps = 500
  config.sampling.num_samples = 1024

  def smoke(c):
    common.smoke(c, steps=20, batch_size=32, eval_batch_size=256, num_samples=64, every=10)
    c.model.score_mlp.width = 32
    c.model.score_mlp.num_layers = 1
    c.sampling.steps = 4

  def data(name):
    return lambda c: setattr(c.data, 'name', 'toy2d:' + name)

  def subvp(c):
    c.model.sde = 'subvpsde'

  def ve(c):
    c.model.sde = 'vesde'
    c.model.sigma_max = 4.0
    c.model.scale_by_sigma = True
    c.model.score_mlp.embedding_type = 'fourier'

  def ode(c):
    c.sampling.method = 'ode'
    c.sampling.solver = 'dopri5'

  def gmm(c):
    c.data.name = 'toy2d:gmm'
    c.eval.metrics = ('loss', 'sliced_wasserstein', 'nll')

  return cfg.select(config, arg, smoke=smoke, moons=data('moons'), subvp=subvp, ve=ve, ode=ode,
                    gmm=gmm, **{'8gaussians': data('8gaussians')})
