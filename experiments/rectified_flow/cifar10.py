"""1-Rectified flow on CIFAR-10 with the paper's DDPM++ configuration (Liu, Gong, Liu, ICLR 2023).

    python -m launch.train --config experiments/rectified_flow/cifar10.py --workdir runs/rf_cifar10

Config (REFERENCES.md, "Rectified flow"; reference code gnobitab/RectifiedFlow): ``tfds:cifar10``
on [-1, 1] (``data.scale='symmetric'``, no dequantization, random horizontal flips); DDPM++
network (`jaxgen.nets.unet.ddpmpp_cifar10`: nf 128, ch_mult (1, 2, 2, 2), 4 res blocks per
resolution, attention at 16x16, BigGAN res blocks, positional embedding of t * 999) with dropout
0.15; batch 128, Adam 2e-4 (b1 0.9, b2 0.999, eps 1e-8), 5000 warm-up steps, grad clip 1, EMA
0.999999. Time convention t = 0 noise, t = 1 data; x_t = t x1 + (1 - t) x0, target x1 - x0,
t ~ U(1e-3, 1). Samples: the paper's "RK45" row, dopri5 at rtol = atol = 1e-5 from t = eps =
1e-3 to 1 (``sampling.t_start``). The training length is score_sde's CIFAR-10 default (1.3M
steps; REFERENCES.md does not record the paper's own).

Variants: ``smoke`` (4 steps of a tiny U-Net on the CIFAR-10 stand-in when tfds has no copy),
``euler`` (Euler from t = 0, ``sampling.steps`` steps: 1 is the paper's one-step row, e.g.
``--config.sampling.steps=1``), ``logit_normal`` (SD3's lognorm(0, 1) times instead of uniform),
``mode`` (SD3's mode sampling, s = 1.29).

Runtime: the full run is accelerator-scale (1.3M steps of the full DDPM++ U-Net at batch 128);
it was NOT run here. On this 2-core CPU only ``smoke`` runs (about a minute, mostly compilation).
Expected result (THE PAPER'S numbers, CIFAR-10, 50k samples; not measured by us):

    sampler                 1-RF             2-RF     3-RF
    RK45 (adaptive)         FID 2.58 (NFE 127, IS 9.60, recall 0.57)   FID 3.36   FID 3.96
    one Euler step          FID 378          12.21    8.15
    distilled, one step     FID 6.18         4.85     5.21

The paper's k-RF and distillation recipe, as the variants ``reflow`` (2-RF), ``reflow3`` (3-RF)
and ``distill`` (one-step distillation of 2-RF; `experiments.common.reflow_variants`, each with
the paper's reflow EMA 0.9999): (1) make pairs (z0, z1 = ODE_1(z0)) by simulating 1-RF's EMA
weights with RK45 (the reference README asks for at least 1M pairs on CIFAR-10; written in
resumable, verified shards):

    python -m launch.reflow --workdir runs/rf_cifar10 --num 1000000 --config.sampling.solver=dopri5

(2) 2-RF fine-tunes 1-RF's EMA weights on those pairs with the same loss (x0 = z0, x1 = z1):

    python -m launch.train --config experiments/rectified_flow/cifar10.py:reflow \
        --workdir runs/rf_cifar10_2rf

(the source run is ``train.init_from``, default runs/rf_cifar10; ``--config.train.init_from=RUN``
moves the pairs with it). 3-RF: pairs of runs/rf_cifar10_2rf, then ``:reflow3``. (3)
Distillation to one step (``:distill``, on the 2-RF pairs from the 2-RF weights) regresses
z1 - z0 at t = 0 only (``loss.time_sampling='distill'``, ``loss.distill_steps=1``; the paper uses
an LPIPS loss, ours is L2) and samples with one Euler step. ``cond``: class-conditional with
classifier-free guidance (`experiments.common.class_conditional`; not in the paper).
"""

from experiments import common
from jaxgen.nets import unet
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('rectified_flow')
  config.seed = 42
  config.data.name = 'tfds:cifar10'
  config.data.scale = 'symmetric'
  config.data.dequantize = False
  config.data.flip = True
  config.model.net = 'unet'
  config.model.unet = unet.ddpmpp_cifar10()
  config.model.unet.dropout = 0.15
  config.model.time_label_scale = 999.0
  config.loss.eps = 1e-3
  config.loss.time_sampling = 'uniform'
  config.optim.optimizer = 'adam'
  config.optim.lr = 2e-4
  config.optim.b1, config.optim.b2, config.optim.eps = 0.9, 0.999, 1e-8
  config.optim.warmup_steps = 5000
  config.optim.grad_clip = 1.0
  config.optim.ema_rate = 0.999999
  config.train.steps = 1_300_000
  config.train.batch_size = 128
  config.train.log_every = 100
  config.train.checkpoint_every = 50_000
  config.train.sample_every = 50_000
  config.train.eval_every = 50_000
  config.eval.metrics = ('loss', 'sliced_wasserstein', 'straightness')
  config.eval.batch_size = 500
  config.eval.num_batches = 0
  config.eval.num_samples = 1024
  config.sampling.solver = 'dopri5'
  config.sampling.rtol = config.sampling.atol = 1e-5
  config.sampling.t_start = 1e-3
  config.sampling.num_samples = 64

  def smoke(c):
    common.smoke(c, steps=4, batch_size=8, eval_batch_size=8, num_samples=8, every=2)
    u = c.model.unet
    u.nf, u.num_res_blocks, u.ch_mult, u.attn_resolutions = 16, 1, (1, 2), (16,)
    c.train.sample_every = 0
    c.train.eval_every = 0
    c.optim.warmup_steps = 2
    c.sampling.solver = 'euler'      # compile time dominates on CPU: a 3-step Euler sampler
    c.sampling.steps = 3
    c.sampling.t_start = 0.0
    c.eval.metrics = ('loss', 'straightness')

  def euler(c):
    c.sampling.solver = 'euler'
    c.sampling.t_start = 0.0

  def logit_normal(c):
    c.loss.time_sampling = 'logit_normal'

  def mode(c):
    c.loss.time_sampling = 'mode'
    c.loss.mode_scale = 1.29

  def cond(c):
    common.class_conditional(c)

  # reflow / reflow3 / distill: k-RF on the pairs of runs/rf_cifar10 (docstring); the source is
  # train.init_from (an override moves the pairs too).
  reflow = common.reflow_variants(lambda c: 'runs/rf_cifar10',
                                  metrics=('sliced_wasserstein', 'straightness'))
  for k, variant in list(reflow.items()):   # the paper's reflow EMA
    reflow[k] = lambda c, v=variant: (v(c), setattr(c.optim, 'ema_rate', 0.9999))

  return cfg.select(config, arg, smoke=smoke, cond=cond, **reflow,
                    euler=euler, logit_normal=logit_normal, mode=mode)
