"""1-Rectified flow on scikit-learn's 8x8 digits with a small DDPM++ U-Net (dequantized data).

    python -m launch.train --config experiments/rectified_flow/digits.py --workdir runs/rf_digits

Data: 1500 train / 297 test images of 17 levels, uniformly dequantized and scaled to [-1, 1]
(``data.dequantize=True``, ``data.scale='symmetric'``: x = 2 (level + u) / 17 - 1, bins of width
2/17), so the flow's density is a density of continuous data and ``eval/bpd`` is the dequantized
bound ``-log p(x) / (64 ln 2) + log2(17 / 2)`` (`jaxgen.metrics.bpd`). Model: the score-SDE
digits U-Net (nf 16, ch_mult (1, 2), 1 res block, attention at 4x4, dropout 0.1, positional
embedding of t * 999), velocity target x1 - x0 with x0 ~ N(0, I), t ~ U(1e-3, 1) (the reference
code's; t = 0 noise, t = 1 data); Adam 1e-3 with 100 warm-up steps, grad clip 1, EMA 0.995
(0.999 keeps too much of the initial weights in a run this short: the trainer's EMA has no bias
correction), batch 64. Samples: Euler, 100 steps.
Evaluation (``eval.metrics``): ``loss`` (test split), ``bpd`` (the ODE likelihood from the data at
t = 1 to N(0, I) at t = 0, dopri5 rtol = atol = 1e-5, one Hutchinson probe: unbiased, and
``--config.likelihood.probes=0`` gives the exact trace, 64 tangents per step, which on this
shared CPU did not finish in 12 minutes for the 297 test images),
``straightness`` (on the 100-step Euler grid) and ``sliced_wasserstein`` (1024 samples vs the
297 test images, with the sampler's NFE).

Variants: ``smoke`` (nf 8, 4 steps, Euler likelihood), ``dopri5`` (samples with dopri5 at
rtol = atol = 1e-5, the paper's "RK45" row), ``logit_normal`` (SD3's lognorm(0, 1) times),
``mode`` (SD3's mode sampling, scale 1.29), ``shift2`` (training times shifted towards the noise
with SD3's resolution shift alpha = 2, and the matching 'shift' sampling grid), ``cond``
(class-conditional, 10 classes, label dropout 0.1, sampled with classifier-free guidance w = 1,
one row per class: `experiments.common.class_conditional`), ``reflow`` / ``reflow3`` /
``distill`` (2-RF, 3-RF and one-step distillation on the pairs of runs/rf_digits, made by ``python -m
launch.reflow --workdir runs/rf_digits --num N``: `experiments.common.reflow_variants`).

Runtime (measured 2026-12-02 on this 2-core CPU shared with 6 other jobs, load 9-17): training
16 minutes wall for the 1500 steps (1-14 steps/s depending on the load; ~2 minutes of
compilation); the evaluation below took 24 minutes (the dopri5 likelihood of 297 images, under
``nice -n 10`` at ~10% of a core), the one-metric sweeps 1-2 minutes each. On an idle machine
expect a few minutes in all. dopri5 (rtol = atol = 1e-5) sampling: NFE 277.
Expected result (measured, ours; run /work/runs/rf_digits, EMA weights at step 1500):

    python -m launch.train --config experiments/rectified_flow/digits.py --workdir runs/rf_digits
    python -m launch.evaluate --workdir runs/rf_digits --config.likelihood.probes=1
    python -m launch.evaluate --workdir runs/rf_digits --config.sampling.steps=k \
        --config.eval.metrics="('sliced_wasserstein','straightness')" --out runs/rf_digits/eval_euler<k>.json
    python -m launch.evaluate --workdir runs/rf_digits --config.sampling.solver=dopri5 \
        --config.eval.metrics="('sliced_wasserstein',)" --out runs/rf_digits/eval_dopri5.json

train loss 0.470 (dropout on), eval/loss 0.471 (297 test images), eval/bpd 2.042 bits/dim
(dequantized bound on [-1, 1] incl. log2(17 / 2), dopri5 rtol = atol = 1e-5, one Hutchinson
probe; log2(17) = 4.09 would be the uniform distribution over the levels), straightness
S = 8.72 on the 100-step Euler grid (1024 samples, ||.||^2 summed over the 64 dimensions; a
straight flow has 0). eval/sliced_wasserstein against the 297 test images (1024 samples, the
first 297 used):

    sampler      Euler 1   Euler 4   Euler 100   dopri5
    NFE          1         4         100         277
    SW           0.428     0.138     0.100       0.101

The metric's noise floor here: 297 training images against the 297 test images score 0.107
(median of 5 draws), so 100 Euler steps are at the floor and 1-RF in one step is far from it,
as the paper's one-step FID of 378 says for CIFAR-10. The training-time variants (``mode``,
``logit_normal``, ``shift2``) were not measured here.

Class-conditional (``cond``; measured 2026-12-02 on the shared 2-core CPU, 1500 steps in 16
minutes wall, the picture in docs/results/rectified_flow_digits_cond_w1.png, one row per digit):

    python -m launch.train --config experiments/rectified_flow/digits.py:cond --workdir runs/rf_digits_cond
    python -m launch.evaluate --workdir runs/rf_digits_cond \
        --config.eval.metrics="('class_accuracy','fd','is')" --config.eval.num_samples=500

eval/loss 0.410 (label dropout 0.1), eval/bpd 2.009 (conditional on the test labels, one
Hutchinson probe), straightness 8.62; with guidance w = 1 (Euler 100 steps, NFE 200: two velocity
evaluations a step) sliced W 0.259 against the test images (the classes in equal shares, not the
data's mix), and in the pinned digits classifier's features (`jaxgen/assets`, 500 samples):
class accuracy 1.000 (every sample classified as the class asked for; the classifier's own test
accuracy is 0.960), FD 0.214 (297 training images against the 297 test images score 0.318) and
IS 9.98 (real test digits: 9.82).
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('rectified_flow')
  config.seed = 0
  config.data.name = 'digits'
  config.data.scale = 'symmetric'
  config.data.dequantize = True
  config.model.net = 'unet'
  u = config.model.unet
  u.nf, u.ch_mult, u.num_res_blocks, u.attn_resolutions = 16, (1, 2), 1, (4,)
  u.dropout = 0.1
  config.optim.lr = 1e-3
  config.optim.warmup_steps = 100
  config.optim.grad_clip = 1.0
  config.optim.ema_rate = 0.995
  config.train.steps = 1500
  config.train.batch_size = 64
  config.train.log_every = 100
  config.train.checkpoint_every = 500
  config.eval.metrics = ('loss', 'bpd', 'straightness', 'sliced_wasserstein')
  config.eval.batch_size = 297
  config.eval.num_samples = 1024
  config.sampling.solver = 'euler'
  config.sampling.steps = 100
  config.sampling.num_samples = 64
  config.likelihood.solver = 'dopri5'
  config.likelihood.rtol = config.likelihood.atol = 1e-5
  config.likelihood.probes = 1

  def smoke(c):
    common.smoke(c, steps=4, batch_size=16, eval_batch_size=16, num_samples=8, every=2)
    c.model.unet.nf = 8
    c.model.unet.attn_resolutions = ()
    c.sampling.steps = 4
    c.likelihood.solver = 'euler'     # bits/dim through the ODE: Euler, 4 steps, one probe
    c.likelihood.steps = 4

  def dopri5(c):
    c.sampling.solver = 'dopri5'
    c.sampling.rtol = c.sampling.atol = 1e-5

  def logit_normal(c):
    c.loss.time_sampling = 'logit_normal'

  def mode(c):
    c.loss.time_sampling = 'mode'
    c.loss.mode_scale = 1.29

  def shift2(c):
    c.loss.shift = 2.0
    c.sampling.grid = 'shift'
    c.sampling.shift = 2.0

  def cond(c):
    common.class_conditional(c)

  # reflow / reflow3 / distill: k-RF on the pairs of runs/rf_digits (python -m launch.reflow
  # --workdir runs/rf_digits); the source is train.init_from (an override moves the pairs too).
  reflow = common.reflow_variants(lambda c: 'runs/rf_digits',
                                  metrics=('sliced_wasserstein', 'straightness'))

  return cfg.select(config, arg, smoke=smoke, cond=cond, **reflow, dopri5=dopri5,
                    logit_normal=logit_normal, mode=mode, shift2=shift2)
