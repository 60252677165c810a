"""A laptop CNF on Fashion-MNIST: FFJORD's maximum-likelihood training with RNODE's regularisers,
a 2-level U-Net of 8 channels without attention, Euler with 2 steps through the training solve.

    python -m launch.train --config experiments/cnf/fashion_mnist.py --workdir runs/cnf_fashion

Data in [-1, 1]; eval/bpd = -log p(x) / (784 ln 2) + 7 by dopri5 with one Hutchinson probe. The
variational bound: python -m launch.train_deq --workdir RUN, then launch.evaluate with bpd_vdeq.
Variants: ``smoke``. Runtime: 13-35 s a step over 30 steps on a shared 2-core CPU (XLA counts 6.4
GFLOP a step; alone an estimated 1-2 s). Expected result: not yet measured:
experiments/tables/fashion_likelihood.py's CNF rows (600 steps) give both bounds.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  # Sized for a CPU: the training step differentiates (recursive checkpointing) a jvp of the net
  # per solver stage, so its graph holds a copy of the net's jvp and its transpose per stage; the
  # digits CNF (RK4: 4 stages, a U-Net with attention) did not finish compiling in 19 minutes.
  # RNODE keeps the learnt flow straight enough that 2 Euler steps of training and the adaptive
  # evaluation measure nearly the same ODE.
  config = cfg.base('cnf')
  config.seed = 0
  config.data.name = 'fashion_mnist'
  config.data.scale = 'symmetric'
  config.data.dequantize = True
  config.model.net = 'unet'
  u = config.model.unet
  u.nf, u.ch_mult, u.num_res_blocks, u.attn_resolutions = 8, (1, 2), 1, ()
  config.loss.solver = 'euler'
  config.loss.steps = 2
  config.loss.kinetic = 0.01
  config.loss.jacobian = 0.01
  config.optim.lr = 1e-3
  config.optim.warmup_steps = 100
  config.optim.grad_clip = 1.0
  config.optim.ema_rate = 0.995
  config.train.steps = 1500
  config.train.batch_size = 32
  config.train.log_every = 50
  config.train.checkpoint_every = 300
  config.eval.metrics = ('loss', 'bpd')
  config.eval.batch_size = 250
  config.eval.num_batches = 2
  config.sampling.solver = 'rk4'
  config.sampling.steps = 8
  config.sampling.num_samples = 64
  config.likelihood.solver = 'dopri5'
  config.likelihood.rtol = config.likelihood.atol = 1e-5
  config.likelihood.probes = 1

  def smoke(c):
    common.smoke(c, steps=2, batch_size=8, eval_batch_size=8, num_samples=4)
    c.model.unet.nf = 4
    c.model.unet.ch_mult = (1,)
    c.loss.steps = 1
    c.sampling.steps = 2
    c.likelihood.solver = 'euler'
    c.likelihood.steps = 2

  return cfg.select(config, arg, smoke=smoke)
