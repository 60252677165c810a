"""Score SDE (VP, continuous DSM) on Fashion-MNIST (28x28) with a small DDPM++ U-Net.

    python -m launch.train --config experiments/score_sde/fashion_mnist.py --workdir runs/sde_fashion

Data: the IDX files of Debian's `dataset-fashion-mnist` (60k train / 10k test), scaled to [-1, 1]
(VP), no dequantization. Model: `jaxgen.nets.unet.small()` at nf 16 (ch_mult (1, 2, 2): 28/14/7,
1 res block, attention at 7x7, dropout 0.1; 317,121 parameters); VP SDE beta 0.1 -> 20;
DSM with t ~ U(1e-5, 1), mean over dimensions; Adam 1e-3 with 200 warm-up steps, grad clip 1,
EMA 0.995, batch 64. Samples: PC sampler (reverse diffusion + Langevin, snr 0.16), 500 steps,
final denoising.

Variants: ``smoke`` (nf 8, 4 steps), ``ode`` (PF-ODE samples with dopri5), ``cond`` (class-conditional,
label dropout 0.1, classifier-free guidance w = 1; 100 samples, one row per class;
`experiments.common.class_conditional`).

Runtime and result (2-core CPU, shared; our measurements). The full 3000 steps ran in two parts:
600 steps in an earlier session (~9 minutes after ~1 minute of compilation, 1.15-1.2 steps/s),
then a resume to 3000 (2400 steps in ~17 minutes, median 2.39 steps/s on a quieter machine):
    python -m launch.train --config experiments/score_sde/fashion_mnist.py --workdir runs/sde_fashion \
        --config.train.steps=1200 --config.train.checkpoint_every=600   # stopped after step 600
    python -m launch.train --config experiments/score_sde/fashion_mnist.py --workdir runs/sde_fashion \
        --config.train.steps=3000 --config.train.checkpoint_every=600   # resumed from step 600
So a fresh default run takes ~25-45 minutes depending on load.
Expected result (measured): train loss (with dropout) 0.055 at
step 600, 0.052 at 1200, 0.047 at 1800, 0.046 at 3000; eval/loss (test split, dropout off) 0.0396 at
step 3000. samples/step_3000.png (the run's final PC samples, 500 steps, ~4 minutes incl.
compilation) shows clean, varied Fashion-MNIST items: trousers, shirts and pullovers, T-shirts,
dresses, sneakers, ankle boots, sandals; at step 600 they were recognisable but grainy. A 200-step
probe with EMA 0.999 gave pure noise (the average was still ~80% the initial weights): the
trainer's EMA starts at the initial parameters, hence EMA 0.995 here (``optim.ema_warmup`` is an
alternative, not measured here).
"""

from experiments import common
from jaxgen.runtime import config as cfg
from jaxgen.nets import unet


def get_config(arg=None):
  config = cfg.base('score_sde')
  config.seed = 0
  config.data.name = 'fashion_mnist'
  config.data.scale = 'symmetric'
  config.data.dequantize = False
  config.model.sde = 'vpsde'
  config.model.net = 'unet'
  config.model.unet = unet.small()
  config.model.unet.nf = 16
  config.model.unet.dropout = 0.1
  config.loss.reduce_mean = True
  config.optim.lr = 1e-3
  config.optim.warmup_steps = 200
  config.optim.grad_clip = 1.0
  config.optim.ema_rate = 0.995
  config.train.steps = 3000
  config.train.batch_size = 64
  config.train.log_every = 100
  config.train.checkpoint_every = 1000
  config.eval.metrics = ('loss',)
  config.eval.batch_size = 256
  config.eval.num_batches = 4
  config.eval.num_samples = 64
  config.sampling.method = 'pc'
  config.sampling.predictor = 'reverse_diffusion'
  config.sampling.corrector = 'langevin'
  config.sampling.snr = 0.16
  config.sampling.steps = 500
  config.sampling.num_samples = 64

  def smoke(c):
    common.smoke(c, steps=4, batch_size=16, eval_batch_size=16, num_samples=8, every=2)
    c.model.unet.nf = 8
    c.model.unet.attn_resolutions = ()
    c.sampling.steps = 4

  def ode(c):
    c.sampling.method = 'ode'
    c.sampling.solver = 'dopri5'

  def cond(c):
    common.class_conditional(c)

  return cfg.select(config, arg, smoke=smoke, ode=ode, cond=cond)
