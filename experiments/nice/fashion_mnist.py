"""NICE, the paper's MNIST architecture, on Fashion-MNIST (our offline stand-in for MNIST).

    python -m launch.train --config experiments/nice/fashion_mnist.py --workdir runs/nice_fm
    python -m launch.evaluate --workdir runs/nice_fm          # test LL (eval/nll) and eval/bpd
    python -m launch.sample --workdir runs/nice_fm            # samples PNG
    python -m launch.inpaint --workdir runs/nice_fm           # inpainting PNG (bottom half)

Model (Dinh, Krueger, Bengio 2014, MNIST): 4 additive coupling layers, odd/even split alternating,
coupling MLPs of 5 hidden ReLU layers x 1000 units (19.2M parameters), diagonal scaling exp(s),
standard logistic prior. Data as in the paper: (255 x + u) / 256, u ~ U(0, 1), i.e.
data.scale='unit' + data.dequantize=True (bins of exactly 1/256 in [0, 1]).
Units: eval/nll is -log p in nats per image (density of the dequantized [0, 1] data; the paper
reports +log p), eval/bpd = 8 - LL / (784 ln 2) bits/dim on the 8-bit data.

Optimiser: Adam lr 1e-3 (the paper; its text also gives momentum 0.9, beta2 = 0.01 and eps = 1e-4 in
the early Adam notation, i.e. optax b2 = 0.99 -- our reading of the paper, not re-checked here; the
released code used RMSProp with momentum, batch 200), batch 200, no gradient clipping, no EMA.
Deviation for short CPU runs: model.scale_mult = 30, i.e. s = 30 * s_param, which makes Adam move
the scaling 30x faster (with the paper's parametrisation, scale_mult = 1, s moves at most ~1e-3 per
step and the scaling alone needs thousands of steps; on 8x8 digits it took 300 steps from 5.7 to
3.0 bits/dim). The variant ``paper`` restores scale_mult = 1 and trains the paper's 1500 epochs.

Runtime (2-core CPU shared by ~6 jobs, jax 0.12): ~0.45 s/step with the CPU to itself (454
examples/s, benchmarks/nice_throughput.py), 1-2 s/step under load; the default 1200 steps (4
epochs of 60k) take ~10-35 min, evaluation of the 10k test images ~10-30 s.
Expected result (our run, seed 0, 1200 steps = 4 epochs, 36 min at load 12-20): test
log-likelihood 771.47 nats per image (eval/nll = -771.47), eval/bpd = 8 - 771.47 / (784 ln 2) =
6.580 bits/dim, still falling (train bpd 6.98 at step 300, 6.76 at 600, 6.57 at 1200); samples
show recognisable garment silhouettes under pixel noise; inpainting the bottom half raises the
mean log p of 8 test images from -2900 (uniform fill) to 965 (originals: 875). A short run is
nowhere near converged. The paper's MNIST test log-likelihood after 1500 epochs is 1980.50 nats
= 4.36 bits/dim (the paper's number, on MNIST, not Fashion-MNIST); there is no published NICE
number on Fashion-MNIST. Details: BENCHMARKS.md `## NICE`.

Variants: ``smoke`` (2 couplings, width 32, 5 steps on 1000 images; end to end in seconds),
``paper`` (scale_mult 1, 1500 epochs = 450k steps at batch 200: weeks on this CPU),
``gaussian`` (Gaussian prior instead of logistic).
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('nice')
  config.seed = 0
  config.data.name = 'fashion_mnist'
  config.data.scale = 'unit'
  config.data.dequantize = True
  # The paper's MNIST setting (these are also the family defaults).
  config.model.num_couplings = 4
  config.model.hidden = 1000
  config.model.depth = 5
  config.model.prior = 'logistic'
  config.model.split = 'odd_even'
  config.model.kernel_init = 'uniform'
  config.model.init_range = 0.01
  config.model.scale_mult = 30.0
  config.loss.reduction = 'per_example'
  config.optim.optimizer = 'adam'
  config.optim.lr = 1e-3
  config.optim.b1 = 0.9
  config.optim.b2 = 0.99
  config.optim.eps = 1e-4
  config.optim.grad_clip = 0.0
  config.optim.ema_rate = 0.0
  config.train.steps = 1200
  config.train.batch_size = 200
  config.train.log_every = 50
  config.train.checkpoint_every = 300
  config.eval.metrics = ('loss', 'nll', 'bpd')
  config.eval.batch_size = 500
  config.eval.use_ema = False
  config.sampling.num_samples = 64
  config.sampling.temperature = 1.0
  config.sampling.inpaint_mask = 'bottom_half'

  def smoke(c):
    common.smoke(c, steps=5, batch_size=64, eval_batch_size=256, num_samples=16)
    c.model.num_couplings = 2
    c.model.hidden = 32
    c.model.depth = 2
    c.data.max_examples = 1000
    c.sampling.inpaint_steps = 20

  def paper(c):
    c.model.scale_mult = 1.0
    c.train.steps = 450_000  # 1500 epochs x 300 steps of 200 images
    c.train.log_every = 300
    c.train.checkpoint_every = 3000

  def gaussian(c):
    c.model.prior = 'gaussian'

  return cfg.select(config, arg, smoke=smoke, paper=paper, gaussian=gaussian)
