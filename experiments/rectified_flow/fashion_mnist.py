"""1-Rectified flow on Fashion-MNIST (28x28) with a small DDPM++ U-Net (dequantized data).

    python -m launch.train --config experiments/rectified_flow/fashion_mnist.py --workdir runs/rf_fashion

Data: the IDX files of Debian's `dataset-fashion-mnist` (60k train / 10k test), uniformly
dequantized and scaled to [-1, 1] (x = 2 (level + u) / 256 - 1), so ``eval/bpd`` is the
dequantized bound ``-log p(x) / (784 ln 2) + 7`` (`jaxgen.metrics.bpd`: log2(256 / 2) = 7 is the
scaling's Jacobian). Model: the score-SDE Fashion-MNIST U-Net (`jaxgen.nets.unet.small()` at
nf 16: ch_mult (1, 2, 2) for 28/14/7, 1 res block, attention at 7x7, dropout 0.1; 317,121
parameters), velocity target x1 - x0 with x0 ~ N(0, I), t ~ U(1e-3, 1) (t = 0 noise, t = 1
data), label t * 999; Adam 1e-3 with 200 warm-up steps, grad clip 1, EMA 0.995, batch 64.
Samples: Euler, 100 steps. Evaluation: ``loss`` (1024 test images), ``bpd`` (the same 1024
images through the ODE from t = 1 to N(0, I) at t = 0 with dopri5, rtol = atol = 1e-5, one
Hutchinson probe: 784 dimensions make the exact trace 784 passes per step), ``straightness`` and
``sliced_wasserstein`` (256 samples; with the sampler's NFE).

Variants: ``smoke`` (nf 8, 4 steps), ``dopri5`` (samples with dopri5, rtol = atol = 1e-5),
``logit_normal`` (SD3's lognorm(0, 1)), ``mode`` (SD3's mode sampling, s = 1.29), ``shift2``
(training-time and sampling-grid resolution shift alpha = 2), ``cond`` (class-conditional,
10 classes, label dropout 0.1, classifier-free guidance w = 1, one row per class:
`experiments.common.class_conditional`), ``reflow`` / ``reflow3`` / ``distill`` (2-RF, 3-RF and
one-step distillation on the pairs of runs/rf_fashion, made by ``python -m launch.reflow
--workdir runs/rf_fashion --num N``: `experiments.common.reflow_variants`).

Runtime (measured 2026-12-02 on this 2-core CPU, shared with a test suite for most of it):
training 34 minutes wall for the 1500 steps (1.0-1.3 steps/s, ~2 minutes of compilation) plus
~3 minutes of evaluation; bpd was left out of that evaluation (the dopri5 likelihood of 1024
images is the slowest part: ``python -m launch.evaluate --workdir RUN
--config.eval.metrics="('bpd',)"``, not measured).
Expected result (measured, ours; run with ``--config.eval.metrics="('loss','sliced_wasserstein',
'straightness','fd','is')"``, EMA weights at step 1500): train loss 0.279, eval/loss 0.271,
straightness 62.1 on the 100-step Euler grid (256 samples, summed over 784 dimensions),
eval/sliced_wasserstein 0.093 (256 Euler-100 samples against 256 test images, NFE 100), and in
the pinned Fashion-MNIST classifier's features (`jaxgen/assets`, test accuracy 0.859; 256
samples against the 10,000 test images) FD 0.442 and IS 5.24 (the 60k training images score
FD 0.005 against the test set and IS 6.61 there). samples/step_1500.png shows recognisable
items of most classes (shoes, boots, trousers, shirts, dresses, bags), some blurred.
"""

from experiments import common
from jaxgen.runtime import config as cfg
from jaxgen.nets import unet


def get_config(arg=None):
  config = cfg.base('rectified_flow')
  config.seed = 0
  config.data.name = 'fashion_mnist'
  config.data.scale = 'symmetric'
  config.data.dequantize = True
  config.model.net = 'unet'
  config.model.unet = unet.small()
  config.model.unet.nf = 16
  config.model.unet.dropout = 0.1
  config.optim.lr = 1e-3
  config.optim.warmup_steps = 200
  config.optim.grad_clip = 1.0
  config.optim.ema_rate = 0.995
  config.train.steps = 1500
  config.train.batch_size = 64
  config.train.log_every = 100
  config.train.checkpoint_every = 500
  config.eval.metrics = ('loss', 'bpd', 'straightness', 'sliced_wasserstein')
  config.eval.batch_size = 256
  config.eval.num_batches = 4
  config.eval.num_samples = 256
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
    c.likelihood.solver = 'euler'
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

  # reflow / reflow3 / distill: k-RF on the pairs of runs/rf_fashion (python -m launch.reflow
  # --workdir runs/rf_fashion); the source is train.init_from (an override moves the pairs too).
  reflow = common.reflow_variants(lambda c: 'runs/rf_fashion',
                                  metrics=('sliced_wasserstein', 'straightness'))

  return cfg.select(config, arg, smoke=smoke, cond=cond, **reflow, dopri5=dopri5,
                    logit_normal=logit_normal, mode=mode, shift2=shift2)
