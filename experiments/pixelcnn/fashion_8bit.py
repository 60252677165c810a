"""PixelCNN vs Gated PixelCNN (and PixelCNN++) on 8-bit Fashion-MNIST (28x28x1, 256 levels).

    python -m launch.train --config experiments/pixelcnn/fashion_8bit.py:gated --workdir runs/pcnn_f8_gated
    python -m launch.train --config experiments/pixelcnn/fashion_8bit.py:pixelcnn --workdir runs/pcnn_f8_plain
    python -m launch.evaluate --workdir runs/pcnn_f8_gated     # test bits/dim (eval/bpd)
    python -m launch.sample --workdir runs/pcnn_f8_gated       # samples/*.png (cached fast sampler)

Variants: ``pixelcnn`` (default) / ``gated``: a 256-way softmax per pixel at (about) equal size,
5 layers each: PixelCNN 2h = 32 filters (28.1k parameters), Gated PixelCNN p = 16 (29.0k);
``pp``: PixelCNN++ (32 filters, 1 resnet per stage, 3 scales 28/14/7, 5-component discretized
logistic mixture, dropout 0.1; fast cached sampler); ``long``: 10x the steps; ``smoke`` (tiny, tests).

Data: data.scale='levels' (the integers 0..255 as float32; no dequantization: the likelihood is
the exact probability mass). Loss: nats per dimension; eval/bpd = -log2 P(x) / 784 on the test split.
Runtime (2-core CPU shared with ~5 other jobs, load average 12-20, jax 0.12): measured 19 min
(PixelCNN) and 12 min (Gated) wall for 2000 steps at batch 16 (0.53 epochs) including the
evaluation of the 10k test images and 16 fast samples.
Expected result (measured, seed 0, 2000 steps, far from the papers' budgets): test 3.3086 bits/dim
(1798.0 nats/image) for PixelCNN and 3.2673 bits/dim (1775.5 nats) for Gated PixelCNN. No
published PixelCNN number exists for Fashion-MNIST (a public Glow notebook reports 3.14 test
bits/dim); the papers' CIFAR-10 numbers are 3.14 (PixelCNN), 3.03 (Gated PixelCNN) and 2.92
(PixelCNN++) bits/dim, see cifar10.py. The ``pp`` variant was only smoke-tested here.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('pixelcnn')
  config.seed = 0
  config.data.name = 'fashion_mnist'
  config.data.scale = 'levels'
  config.model.net = 'pixelcnn'
  config.model.filters = 32
  config.model.blocks = 5
  config.model.output = 'categorical'
  config.loss.reduction = 'per_dim'
  config.optim.optimizer = 'adam'
  config.optim.lr = 1e-3
  config.optim.grad_clip = 0.0
  config.optim.ema_rate = 0.0
  config.train.steps = 2000
  config.train.batch_size = 16
  config.train.log_every = 100
  config.train.checkpoint_every = 1000
  config.eval.metrics = ('loss', 'nll', 'bpd')
  config.eval.batch_size = 500
  config.eval.use_ema = False
  config.sampling.method = 'fast'
  config.sampling.num_samples = 16

  def pixelcnn(c):
    c.model.net = 'pixelcnn'
    c.model.filters = 32

  def gated(c):
    c.model.net = 'gated'
    c.model.filters = 16

  def pp(c):
    c.model.net = 'pixelcnn_pp'
    c.model.filters = 32
    c.model.blocks = 1
    c.model.scales = 3
    c.model.dropout = 0.1
    c.model.output = 'logistic_mixture'
    c.model.num_mixtures = 5
    c.sampling.method = 'fast'  # the cached sampler: the plain sampler's images, faster

  def long(c):
    c.train.steps *= 10
    c.train.checkpoint_every = 5000

  def smoke(c):
    common.smoke(c, steps=5, batch_size=16, eval_batch_size=64, num_samples=4)
    c.model.filters = 4
    c.model.blocks = 1
    c.model.num_mixtures = 2
    c.data.max_examples = 256

  return cfg.select(config, arg, smoke=smoke, pixelcnn=pixelcnn, gated=gated, pp=pp, long=long)
