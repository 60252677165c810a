"""Pieces the experiment files share: the smoke settings, the score-SDE paper's CIFAR-10 base, the
few-step families' CIFAR-10 base and the reflow variants of rectified-flow experiments.

Experiment files import it as ``from experiments import common``: `jaxgen.runtime.config.load`
imports every experiment file as a module of the `experiments` package, from any working directory.
Not an experiment itself: it has no ``get_config``.
"""

from typing import Callable, Optional

from jaxgen.nets import unet
from jaxgen.runtime import config as cfg


def smoke(c, *, steps: int, batch_size: int, eval_batch_size: int, num_samples: int,
          every: int = 0):
  """The settings every ``smoke`` variant shares: a few steps end to end, quick to compile.

  Sets `steps` training steps of `batch_size` examples, logs and checkpoints every `every` steps
  (0: only at the last step), one evaluation batch of `eval_batch_size` examples, `num_samples`
  samples (the end-of-run picture and sample-based metrics), no progress bar, XLA optimizations
  off (a faster start, slower steps) and ``data.stand_in = True``: a data set that is not on this
  machine is replaced by a synthetic one of the same shape and levels (one printed line says so),
  so every smoke runs on a fresh machine. The caller then shrinks its own net (and the rest).
  """
  c.train.steps = steps
  c.train.batch_size = batch_size
  c.train.log_every = c.train.checkpoint_every = every or steps
  c.train.progress = False
  c.train.fast_compile = True
  c.eval.batch_size = eval_batch_size
  c.eval.num_batches = 1
  c.eval.num_samples = num_samples
  c.sampling.num_samples = num_samples
  c.data.stand_in = True


def score_sde_cifar10(sde: str, deep: bool):
  """Song et al. (ICLR 2021) on CIFAR-10 as the reference configs set it (``tfds:cifar10``).

  sde: 'vpsde' | 'subvpsde' (DDPM++ cont., data on [-1, 1]) or 'vesde' (NCSN++ cont., data on
  [0, 1], the net centres its input); deep: 8 res blocks per resolution instead of 4.
  """
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
  c.eval.dequantize = True      # bpd on (k + u) / 256 test images, as the reference (trains on k / 255)
  c.sampling.method = 'pc'
  c.sampling.steps = 1000
  c.sampling.snr = 0.16
  c.sampling.n_steps_each = 1
  c.sampling.denoise = True
  c.sampling.num_samples = 64
  c.likelihood.solver = 'dopri5'            # the reference's RK45, rtol = atol = 1e-5
  c.likelihood.rtol = c.likelihood.atol = 1e-5
  c.likelihood.probes = 1                   # one Rademacher probe, as the reference
  return c


def score_sde_cifar10_smoke(c):
  """The CIFAR-10 smoke: 4 steps of a tiny U-Net (nf 16, 1 res block, ch_mult (1, 2))."""
  smoke(c, steps=4, batch_size=8, eval_batch_size=8, num_samples=8, every=2)
  u = c.model.unet
  u.nf, u.num_res_blocks, u.ch_mult, u.attn_resolutions = 16, 1, (1, 2), (16,)
  c.train.sample_every = 0
  c.train.eval_every = 0
  c.optim.warmup_steps = 2
  c.sampling.steps = 3
  # Compile time dominates on CPU: one U-Net call per sampler step (no corrector) and no
  # likelihood (digits.py:smoke exercises bpd through the PF-ODE on a U-Net).
  c.sampling.corrector = 'none'
  c.eval.metrics = ('loss',)


def few_step_cifar10(family: str, net) -> cfg.ConfigDict:
  """A few-step family (``consistency``, ``mean_flow``, ``shortcut``) on CIFAR-10 at paper scale:
  ``tfds:cifar10`` in [-1, 1] with flips, the U-Net config `net`, Adam, logs every 100 and
  checkpoints every 50k steps, ``eval/loss`` at the end, one-step samples. The caller sets the
  paper's loss, learning rate, EMA, batch and length (and ``few_step_cifar10_smoke``)."""
  c = cfg.base(family)
  c.seed = 42
  c.data.name = 'tfds:cifar10'
  c.data.scale = 'symmetric'
  c.data.dequantize = False
  c.data.flip = True
  c.model.net = 'unet'
  c.model.unet = net
  c.optim.optimizer = 'adam'
  c.optim.b1, c.optim.b2, c.optim.eps = 0.9, 0.999, 1e-8
  c.train.log_every = 100
  c.train.checkpoint_every = 50_000
  c.eval.metrics = ('loss',)
  c.eval.batch_size = 500
  c.eval.num_samples = 1024
  c.sampling.steps = 1
  c.sampling.num_samples = 64
  return c


def few_step_cifar10_smoke(c):
  """The smoke of a `few_step_cifar10` config: 4 steps of a tiny U-Net (nf 8, 1 res block,
  ch_mult (1, 2), no attention, no FIR / progressive input: a jvp doubles the compile time)."""
  smoke(c, steps=4, batch_size=8, eval_batch_size=8, num_samples=8, every=2)
  u = c.model.unet
  u.nf, u.num_res_blocks, u.ch_mult, u.attn_resolutions = 8, 1, (1, 2), ()
  u.fir, u.progressive_input = False, 'none'
  c.optim.warmup_steps = 2


def reflow_variants(root: Callable[[cfg.ConfigDict], str], *,
                    metrics: Optional[tuple] = None) -> dict:
  """Variants ``reflow`` (2-RF), ``reflow3`` (3-RF) and ``distill`` (one-step distillation of
  2-RF) for any rectified-flow experiment, to splice into ``cfg.select(..., **variants)``.

  Each trains on the pairs of a source run AND starts from its weights (the paper's recipe: k-RF
  fine-tunes (k-1)-RF's EMA weights on (k-1)-RF's pairs). The source run is ONE key,
  ``train.init_from``; ``data.name`` is derived from it (``pairs:<init_from>/reflow/pairs``,
  what ``python -m launch.reflow --workdir <init_from>`` writes) through an ml_collections
  FieldReference, so ``--config.train.init_from=/abs/run`` on the command line (applied after the
  variants) moves both; overriding ``data.name`` as well unlinks it. Default sources, from
  ``root(c)`` (the 1-RF workdir, computed when the variant applies, after the variants left of
  it): ``reflow`` reads ROOT, ``reflow3`` ROOT_2rf, ``distill`` ROOT_2rf (so the chain is ROOT ->
  ROOT_2rf -> ROOT_3rf, and ROOT_2rf -> ROOT_2rf_distill). `metrics` (if given) replaces
  ``eval.metrics`` (``distill`` drops 'straightness': a one-step flow is straight by
  construction). ``distill``: ``loss.time_sampling='distill'``, one Euler step.
  """
  from ml_collections import FieldReference

  def source(c, src):
    ref = FieldReference(src)
    c.train.init_from = ref
    c.data.name = 'pairs:' + ref + '/reflow/pairs'
    # Pairs are already in the model's space (the source run's transformed data).
    c.data.scale, c.data.dequantize, c.data.binarize, c.data.flip = 'none', False, 'none', False
    if metrics is not None:
      c.eval.metrics = tuple(metrics)

  def reflow(c):
    source(c, root(c))

  def reflow3(c):
    source(c, root(c) + '_2rf')

  def distill(c):
    source(c, root(c) + '_2rf')
    c.loss.time_sampling = 'distill'
    c.loss.distill_steps = 1
    c.sampling.steps = 1
    c.eval.metrics = tuple(m for m in c.eval.metrics if m != 'straightness')

  return {'reflow': reflow, 'reflow3': reflow3, 'distill': distill}


def class_conditional(c, p_uncond: float = 0.1):
  """Class-conditional training with classifier-free guidance (score SDE, rectified flow).

  Sets ``model.num_classes`` from the data (10 for digits, fashion_mnist and the 10-class TFDS sets
  named here), ``loss.p_uncond`` (label dropout, Ho and Salimans' 0.1-0.2), and samples 100 with
  ``sampling.label = -1`` (all classes, one row of 10 per class) at guidance ``w = 1`` (moderate:
  sharper classes, little loss of variety; w = 0 is the plain conditional model). Other sets:
  set ``model.num_classes`` yourself (validation refuses data without labels).
  """
  known = {'digits': 10, 'fashion_mnist': 10, 'tfds:mnist': 10, 'tfds:cifar10': 10,
           'tfds:fashion_mnist': 10}
  if c.data.name not in known:
    raise ValueError(f'class_conditional: the number of classes of config.data.name='
                     f'{c.data.name!r} is not known here; set config.model.num_classes')
  c.model.num_classes = known[c.data.name]
  c.loss.p_uncond = p_uncond
  c.sampling.label = -1
  c.sampling.guidance = 1.0
  c.sampling.num_samples = 10 * c.model.num_classes
