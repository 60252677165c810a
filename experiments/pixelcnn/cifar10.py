"""The papers' CIFAR-10 configurations: PixelCNN, Gated PixelCNN and PixelCNN++ (32x32x3, 8 bits).

    python -m launch.train --config experiments/pixelcnn/cifar10.py --workdir runs/pcnn_cifar_pp
    python -m launch.train --config experiments/pixelcnn/cifar10.py:pixelcnn --workdir runs/pcnn_cifar_plain
    python -m launch.train --config experiments/pixelcnn/cifar10.py:gated --workdir runs/pcnn_cifar_gated

Needs the tfds CIFAR-10 files (data.name='tfds:cifar10'; data.dir = their data_dir). Variants:
  default     PixelCNN++ (Salimans et al. 2017): 160 filters, 5 gated resnets per stage, 3 scales
              (32/16/8), dropout 0.5, 10-component discretized logistic mixture with the RGB
              coupling; Adam 1e-3 decayed x0.999995 per step, beta1 0.95, beta2 0.9995, Polyak
              (EMA) 0.9995. Our nets have no weight normalization (the reference's).
  pixelcnn    PixelCNN (PixelRNN paper): 7x7 mask A, 15 residual blocks with h = 128 (2h = 256),
              256-way softmax per channel, RMSProp, batch 16 (depth/width unverified).
  gated       Gated PixelCNN: 20 gated layers of 384 filters, 256-way softmax per channel
              (depth/width unverified), Adam.
  smoke       tiny nets, 5 steps (on a stand-in of the same shape where CIFAR-10 is not here).
Runtime: the papers trained for days on GPUs (the Flax PixelCNN++ example reached 2.923 bits/dim
in 38 h on 8 V100s); on this 2-core CPU one step of the default takes many seconds: only the smoke
variant is meant to run here (about 30-60 seconds). No GPU was lent in this session; the code
runs unchanged on one.
Expected result (the papers' test bits/dim, quoted, not reproduced here): PixelCNN 3.14,
Gated PixelCNN 3.03, PixelCNN++ 2.92.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('pixelcnn')
  config.seed = 0
  config.data.name = 'tfds:cifar10'
  config.data.scale = 'levels'
  config.data.flip = False
  config.model.net = 'pixelcnn_pp'
  config.model.filters = 160
  config.model.blocks = 5
  config.model.scales = 3
  config.model.dropout = 0.5
  config.model.output = 'logistic_mixture'
  config.model.num_mixtures = 10
  config.loss.reduction = 'per_dim'
  config.optim.optimizer = 'adam'
  config.optim.lr = 1e-3
  config.optim.b1 = 0.95
  config.optim.b2 = 0.9995
  config.optim.decay = 'exponential'
  config.optim.decay_rate = 0.999995
  config.optim.grad_clip = 0.0
  config.optim.ema_rate = 0.9995
  config.train.steps = 500000
  config.train.batch_size = 64
  config.train.log_every = 500
  config.train.checkpoint_every = 10000
  config.eval.metrics = ('loss', 'nll', 'bpd')
  config.eval.batch_size = 100
  config.eval.use_ema = True
  config.sampling.method = 'fast'  # the cached sampler: the plain sampler's images, faster
  config.sampling.num_samples = 16

  def pixelcnn(c):
    c.model.net = 'pixelcnn'
    c.model.filters = 256
    c.model.blocks = 15
    c.model.output = 'categorical'
    c.model.dropout = 0.0
    c.optim.optimizer = 'rmsprop'
    c.optim.decay = 'none'
    c.optim.ema_rate = 0.0
    c.train.batch_size = 16
    c.sampling.method = 'fast'

  def gated(c):
    c.model.net = 'gated'
    c.model.filters = 384
    c.model.blocks = 20
    c.model.output = 'categorical'
    c.model.dropout = 0.0
    c.optim.b1 = 0.9
    c.optim.b2 = 0.999
    c.optim.decay = 'none'
    c.optim.ema_rate = 0.0
    c.sampling.method = 'fast'

  def smoke(c):
    common.smoke(c, steps=5, batch_size=16, eval_batch_size=32, num_samples=2)
    c.model.filters = 6
    c.model.blocks = 1
    c.model.num_mixtures = 2
    c.data.max_examples = 64

  return cfg.select(config, arg, smoke=smoke, pixelcnn=pixelcnn, gated=gated)
