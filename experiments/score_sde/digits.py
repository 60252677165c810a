"""Score SDE (VP, continuous DSM) on scikit-learn's 8x8 digits with a small DDPM++ U-Net.

    python -m launch.train --config experiments/score_sde/digits.py --workdir runs/sde_digits

Data: 1500 train / 297 test images of 17 levels, scaled to [-1, 1] (data.scale='symmetric', as the
paper does for VP), no dequantization. Model: U-Net (nf 16, ch_mult (1, 2), 1 res block per
resolution, attention at 4x4, dropout 0.1, positional time embedding of t * 999; 188,769
parameters); VP SDE beta 0.1 -> 20; DSM with t ~ U(1e-5, 1), mean over dimensions; Adam 1e-3 with
100 warm-up steps, grad clip 1, EMA 0.995, batch 64, 1500 steps. Samples: PC sampler, reverse-diffusion
predictor + Langevin corrector (snr 0.16), 300 steps, final denoising.

Variants: ``smoke`` (nf 8, 4 steps; eval/bpd on dequantized test images, eval.dequantize), ``ve`` (VE SDE on [0, 1] data, sigma_max 8 ~ the largest
pairwise distance of the training images, NCSN++-style Fourier embedding, score / sigma),
``ode`` (PF-ODE samples, dopri5), ``cond`` (class-conditional with label dropout 0.1 and classifier-free
guidance w = 1 at sampling, `experiments.common.class_conditional`; 100 samples, one row per digit).

Runtime (2-core CPU shared with other jobs): measured 7.5 minutes wall (4.4 CPU-minutes) for the
whole run: compilation, 1500 steps at 4-12 steps/s (depending on the other jobs) and the 64
samples (NFE 601). An earlier run with EMA 0.999 while the CPU was busier took 15 minutes.
Expected result (measured): samples/step_1500.png, 64 clean 8x8 digits on a dark background, most
of them readable (0-7 and 9 all appear); train loss 0.095, eval/loss 0.081 on the 297 test
images. With EMA 0.999 instead of 0.995 the samples were noisier (eval/loss 0.139): the trainer's
EMA starts at the initial weights without bias correction and 0.999^1500 = 0.22 of them remain.
No paper number exists for this set.

Class-conditional (``cond``; measured on the shared 2-core CPU, load 8-15 from other jobs):
    python -m launch.train --config experiments/score_sde/digits.py:cond --workdir runs/sde_digits_cond
38 minutes wall (6 CPU-minutes: the machine was shared), 189,473 parameters (the default's plus
11 label embeddings of 64), train loss 0.082, eval/loss 0.083 (the unconditional run: 0.081);
samples/step_1500.png (PC, 300 steps + Langevin, w = 1, NFE 1202 = 2 x 601) shows 10 rows of 10:
row k is digit k; nearly all are readable as their class (two of the ten 1s are malformed,
a few 3s and 7s are faint; the 4s, 5s and 9s vary in slant and thickness). The same key
without guidance (``--config.sampling.guidance=0``: samples/sample_1500_pc_all.png, 2 minutes)
gives the same layout with weaker class fidelity: several 4s look like 6s or 9s, a few 9s like 5s
and one 3 like a 9; guidance w = 1 makes them their class. ``python -m launch.sample --workdir runs/sde_digits_cond
--config.sampling.label=3 --config.sampling.guidance=2`` samples one class with stronger guidance.
In the pinned digits classifier's features (`jaxgen/assets`; 500 samples at w = 1,
``python -m launch.evaluate --workdir runs/sde_digits_cond --config.eval.num_samples=500
--config.eval.metrics="('class_accuracy','fd','is')"``): class accuracy 1.000 (the classifier's
own test accuracy: 0.960), FD 0.222 (297 training vs the 297 test images: 0.318), IS 9.98 (real
test digits: 9.82). The picture: docs/results/score_sde_digits_cond_w1.png.
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
    c.eval.dequantize = True            # the test images dequantized (k + u) / 17 (metrics.bpd)
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

  def cond(c):
    common.class_conditional(c)

  return cfg.select(config, arg, smoke=smoke, ve=ve, ode=ode, subvp=subvp, lw=lw, cond=cond)
