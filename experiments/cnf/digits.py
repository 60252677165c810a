"""FFJORD on 8x8 digits: a CNF with a small U-Net trained by maximum likelihood (RK4, 4 steps).

    python -m launch.train --config experiments/cnf/digits.py --workdir runs/cnf_digits

Dequantized data in [-1, 1]; eval/bpd is -log p(x) / (64 ln 2) + log2(17 / 2), through the
dopri5 solve with one Hutchinson probe; eval/likelihood_nfe its NFE. Variants: ``smoke``,
``rnode`` (kinetic + Jacobian 0.01). The same U-Net by flow matching (there with dropout 0.1):
experiments/rectified_flow/digits.py.
Runtime: not measured on a CPU: with train.fast_compile its train step (a jvp of the U-Net
in each of 16 RK4 stages) was still compiling after 19 minutes (12 CPU minutes) on a shared
2-core CPU; use an accelerator. Expected result: not yet measured; the smoke trains, evaluates bpd.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('cnf')
  config.seed = 0
  config.data.name = 'digits'
  config.data.scale = 'symmetric'
  config.data.dequantize = True
  config.model.net = 'unet'
  u = config.model.unet
  u.nf, u.ch_mult, u.num_res_blocks, u.attn_resolutions = 16, (1, 2), 1, (4,)
  config.loss.solver = 'rk4'
  config.loss.steps = 4
  config.optim.lr = 1e-3
  config.optim.warmup_steps = 100
  config.optim.grad_clip = 1.0
  config.optim.ema_rate = 0.995
  config.train.steps = 1500
  config.train.batch_size = 64
  config.train.log_every = 50
  config.train.checkpoint_every = 250
  config.eval.metrics = ('loss', 'bpd')
  config.eval.batch_size = 297
  config.sampling.solver = 'rk4'
  config.sampling.steps = 16
  config.sampling.num_samples = 64
  config.likelihood.solver = 'dopri5'
  config.likelihood.rtol = config.likelihood.atol = 1e-5
  config.likelihood.probes = 1

  def smoke(c):
    common.smoke(c, steps=2, batch_size=8, eval_batch_size=8, num_samples=4)
    c.model.unet.nf = 8
    c.model.unet.attn_resolutions = ()
    c.loss.solver = 'euler'
    c.loss.steps = 1
    c.sampling.steps = 2
    c.likelihood.solver = 'euler'
    c.likelihood.steps = 2

  def rnode(c):
    c.loss.kinetic = c.loss.jacobian = 0.01

  return cfg.select(config, arg, smoke=smoke, rnode=rnode)
