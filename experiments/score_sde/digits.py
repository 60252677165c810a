"""Score SDE (VP, continuous DSM) on 8x8 digits with a small DDPM++ U-Net.

    python -m launch.train --config experiments/score_sde/digits.py --workdir runs/sde_digits

Data in [-1, 1]; PC sampler (reverse diffusion + Langevin). Variants: ``smoke``, ``ve``, ``ode``,
``subvp``, ``lw`` (likelihood weighting), ``lwis`` (likelihood weighting with importance-sampled
t), ``deq`` (trained on uniformly dequantized images (k + u) / 17 instead of the grid), ``cond`` (classifier-free guidance; picture in
docs/results/score_sde_digits_cond_w1.png).
Runtime: about 8 minutes on this 2-core CPU for 1500 steps.
Expected result: readable digits in samples/step_1500.png, eval/loss 0.081. The paper tables on
this run: experiments/tables/results/score_sde_*_laptop.md and ddim_steps_laptop.md.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('score_sde')
  config.seed = 0
  config.data.name = 'digits'
  config.data.scale = 'symmetric'
  config.data.dequantize = False
  config.model.sde = 'vpsde'
  config.model.net = 'unet'
  u = config.model.unet
  u.nf, u.ch_mult, u.num_res_blocks, u.attn_resolutions = 16, (1, 2), 1, (4,)
  u.dropout = 0.1
  config.loss.reduce_mean = True
  config.optim.lr = 1e-3
  config.optim.warmup_steps = 100
  config.optim.grad_clip = 1.0
  config.optim.ema_rate = 0.995
  config.train.steps = 1500
  config.train.batch_size = 64
  config.train.log_every = 100
  config.train.checkpoint_every = 500
  config.eval.metrics = ('loss',)
  config.eval.batch_size = 297
  config.eval.num_samples = 64
  config.sampling.method = 'pc'
  config.sampling.predictor = 'reverse_diffusion'
  config.sampling.corrector = 'langevin'
  config.sampling.snr = 0.16
  config.sampling.steps = 300
  config.sampling.num_samples = 64

  def smoke(c):
    common.smoke(c, steps=4, batch_size=16, eval_batch_size=16, num_samples=8, every=2)
    c.model.unet.nf = 8
    c.model.unet.attn_resolutions = ()
    c.sampling.steps = 4
    c.eval.metrics = ('loss', 'bpd')    # PF-ODE bits/dim: Euler, 4 steps, one probe, on
    c.eval.dequantize = not c.data.dequantize   # the test images dequantized (k + u) / 17
                                                # (metrics.bpd), unless the data are already
    c.likelihood.solver = 'euler'
    c.likelihood.steps = 4
    c.likelihood.probes = 1

  def ve(c):
    c.data.scale = 'unit'
    c.model.sde = 'vesde'
    c.model.sigma_max = 8.0
    c.model.scale_by_sigma = True
    c.model.unet.embedding_type = 'fourier'
    c.model.unet.center_input = True
    c.loss.reduce_mean = False

  def ode(c):
    c.sampling.method = 'ode'
    c.sampling.solver = 'dopri5'

  def subvp(c):
    c.model.sde = 'subvpsde'

  def lw(c):
    c.loss.likelihood_weighting = True

  def lwis(c):
    c.loss.likelihood_weighting = True
    c.loss.importance_sampling = True

  def deq(c):
    c.data.dequantize = True

  def cond(c):
    common.class_conditional(c)

  return cfg.select(config, arg, smoke=smoke, ve=ve, ode=ode, subvp=subvp, lw=lw, lwis=lwis,
                    deq=deq, cond=cond)
