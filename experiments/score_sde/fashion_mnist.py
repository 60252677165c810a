"""Score SDE (VP, continuous DSM) on Fashion-MNIST (28x28) with a small DDPM++ U-Net.

    python -m launch.train --config experiments/score_sde/fashion_mnist.py --workdir runs/sde_fashion

Data: the IDX files of Debian's `dataset-fashion-mnist` (60k train / 10k test), scaled to [-1, 1]
(VP), no dequantization. Model: `jaxgen.nets.unet.small()` at nf 16 (ch_mult (1, 2, 2): 28/14/7,
1 res block, attention at 7x7, dropout 0.1; 317,121 parameters); VP SDE beta 0.1 -> 20;
DSM with t ~ U(1e-5, 1), mean over dimensions; Adam 1e-3 with 200 warm-up steps, grad clip 1,
EMA 0.995, batch 64. Samples: PC sampler (reverse diffusion + Langevin, snr 0.16), 500 steps,
final denoising.

Variants: ``smoke`` (nf 8, 4 steps), ``ode`` (PF-ODE samples with dopri5).

Runtime (2-core CPU, shared): the full 3000 steps were NOT run here. Measured: at 1.15-1.2 steps/s
(light load) the first 600 steps took ~9 minutes after ~1 minute of compilation; 64 samples
(PC, 300 steps, NFE 601) took 2.5 minutes incl. compilation:
    python -m launch.train --config experiments/score_sde/fashion_mnist.py --workdir runs/sde_fashion \
        --config.train.steps=1200 --config.train.checkpoint_every=600   # stopped after step 600
    python -m launch.sample --workdir runs/sde_fashion --config.sampling.steps=300
So the default 3000 steps take ~45 minutes on a quiet 2-core CPU (~0.8 steps/s under load: ~65).
Expected result (measured at step 600): samples/sample_600_*.png shows recognisable Fashion-MNIST
items (shirts, pullovers, trousers, dresses, sneakers, ankle boots, bags) with grainy texture; train
loss 0.055 at step 600 (0.92 at step 50). More steps should sharpen them (not measured). A 200-step
probe with EMA 0.999 gave pure noise (the average was still ~80% the initial weights): the
trainer's EMA starts at the initial parameters without bias correction, hence EMA 0.995 here.
"""

from jaxgen import config as cfg
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
    c.train.fast_compile = True   # XLA optimizations off: a quick start
    c.model.unet.nf = 8
    c.model.unet.attn_resolutions = ()
    c.train.steps = 4
    c.train.batch_size = 16
    c.train.log_every = 2
    c.train.checkpoint_every = 2
    c.eval.num_batches = 1
    c.eval.batch_size = 16
    c.eval.num_samples = 8
    c.sampling.steps = 4
    c.sampling.num_samples = 8

  def ode(c):
    c.sampling.method = 'ode'
    c.sampling.solver = 'dopri5'

  return cfg.select(config, arg, smoke=smoke, ode=ode)
