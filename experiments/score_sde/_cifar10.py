"""Shared settings of the score-SDE CIFAR-10 experiments (the paper's / reference configs).

Not an experiment itself (the leading underscore keeps it out of tests/test_experiments.py); the
six `*_cont_*.py` files load it with `load()` and call `config(sde, deep)`.
"""

from jaxgen.runtime import config as cfg
from jaxgen.nets import unet


def config(sde: str, deep: bool):
  """sde: 'vpsde' | 'subvpsde' (DDPM++ cont.) or 'vesde' (NCSN++ cont.); deep: 8 res blocks."""
  c = cfg.base('score_sde')
  c.seed = 42
  c.data.name = 'tfds:cifar10'
  c.data.flip = True
  c.data.dequantize = False
  # VP / sub-VP train on [-1, 1]; VE keeps [0, 1] and the net centres its input.
  c.data.scale = 'unit' if sde == 'vesde' else 'symmetric'
  c.model.sde = sde
  c.model.net = 'unet'
  c.model.continuous = True
  c.model.num_scales = 1000
  if sde == 'vesde':
    c.model.unet = unet.ncsnpp_cifar10(deep)
    c.model.unet.center_input = True
    c.model.scale_by_sigma = True
    c.model.sigma_min, c.model.sigma_max = 0.01, 50.0
    c.loss.reduce_mean = False
    c.optim.ema_rate = 0.999
    c.sampling.predictor, c.sampling.corrector = 'reverse_diffusion', 'langevin'
  else:
    c.model.unet = unet.ddpmpp_cifar10(deep)
    c.model.beta_min, c.model.beta_max = 0.1, 20.0
    c.loss.reduce_mean = True
    c.optim.ema_rate = 0.9999
    c.sampling.predictor, c.sampling.corrector = 'euler_maruyama', 'none'
  c.loss.eps = 1e-5
  c.loss.likelihood_weighting = False
  c.optim.optimizer = 'adam'
  c.optim.lr = 2e-4
  c.optim.b1, c.optim.b2, c.optim.eps = 0.9, 0.999, 1e-8
  c.optim.warmup_steps = 5000
  c.optim.grad_clip = 1.0
  c.train.steps = 950_000 if deep else 1_300_000
  c.train.batch_size = 128
  c.train.log_every = 100
  c.train.checkpoint_every = 50_000
  c.train.sample_every = 50_000
  c.train.eval_every = 50_000
  c.eval.metrics = ('loss', 'bpd')
  c.eval.batch_size = 500
  c.eval.num_batches = 0
  c.eval.num_samples = 64
  c.eval.dequant_draws = 1
  c.sampling.method = 'pc'
  c.sampling.steps = 1000
  c.sampling.snr = 0.16
  c.sampling.n_steps_each = 1
  c.sampling.denoise = True
  c.sampling.num_samples = 64
  c.sampling.likelihood_solver = 'dopri5'   # the reference's RK45, rtol = atol = 1e-5
  c.sampling.rtol = c.sampling.atol = 1e-5
  c.sampling.likelihood_probes = 1          # one Rademacher probe, as the reference
  return c


def smoke(c):
  """A few steps of a tiny U-Net (nf 16, 1 res block, ch_mult (1, 2)) on mock data."""
  c.train.fast_compile = True   # XLA optimizations off: a quick start
  u = c.model.unet
  u.nf, u.num_res_blocks, u.ch_mult, u.attn_resolutions = 16, 1, (1, 2), (16,)
  c.train.steps = 4
  c.train.batch_size = 8
  c.train.log_every = 2
  c.train.checkpoint_every = 2
  c.train.sample_every = 0
  c.train.eval_every = 0
  c.optim.warmup_steps = 2
  c.eval.batch_size = 8
  c.eval.num_batches = 1
  c.eval.num_samples = 8
  c.sampling.steps = 3
  c.sampling.num_samples = 8
  # Compile time dominates on CPU: one U-Net call per sampler step (no corrector) and no
  # likelihood (digits.py:smoke exercises bpd through the PF-ODE on a U-Net).
  c.sampling.corrector = 'none'
  c.eval.metrics = ('loss',)
