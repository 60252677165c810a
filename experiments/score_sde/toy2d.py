"""Score SDE (VP, continuous DSM) on a 2-D toy density with the score MLP: the laptop-scale check.

    python -m launch.train --config experiments/score_sde/toy2d.py --workdir runs/sde_checkerboard

Variants (``file.py:variant``): ``smoke`` (tiny, for tests), ``8gaussians``, ``moons``, ``subvp``,
``ve`` (VE SDE, sigma_max 4 ~ the data's largest pairwise distance, as the reference README
advises), ``ode`` (sample with the PF-ODE, dopri5), ``gmm`` (toy2d:gmm, whose density is known,
with the PF-ODE NLL as a metric).

Runtime (2-core CPU shared with other jobs, jax 0.12): measured 4.6 minutes wall for 4000 steps at batch
256 (~22 steps/s while ~5 other jobs shared the 2 cores; 1.7 CPU-minutes) plus compilation,
evaluation and 1024 samples.
Expected result: samples/step_4000.png shows the 8 squares of the checkerboard, with
soft edges and some mass between squares; train loss plateaus at ~0.39 (the DSM loss does not go
to 0: it keeps the irreducible term of tests/diffusion/test_score_losses.py). Measured eval/sliced_wasserstein
0.161 with the PC sampler (NFE 1001) and 0.238 with the PF-ODE (dopri5, NFE 338); the metric's
floor, two independent 1024-point draws of the data, is ~0.12 (median of 5: 0.117).
Model: score_mlp (3 residual blocks of width 256), VP SDE (beta 0.1 -> 20), DSM with
t ~ U(1e-5, 1), mean over dimensions; PC sampler, reverse-diffusion predictor + Langevin corrector
(snr 0.16), 500 steps, final Tweedie denoising; Adam 1e-3, EMA 0.999, batch 256.
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
