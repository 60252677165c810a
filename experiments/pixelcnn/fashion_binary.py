"""PixelCNN vs Gated PixelCNN on binarized Fashion-MNIST (28x28x1, Bernoulli outputs).

    python -m launch.train --config experiments/pixelcnn/fashion_binary.py:gated --workdir runs/pcnn_fb_gated
    python -m launch.train --config experiments/pixelcnn/fashion_binary.py:pixelcnn --workdir runs/pcnn_fb_plain
    python -m launch.evaluate --workdir runs/pcnn_fb_gated     # test NLL in nats per image
    python -m launch.sample --workdir runs/pcnn_fb_gated       # samples/*.png (cached fast sampler)

Variants (``file.py:a,b``): ``pixelcnn`` (the default) / ``gated`` pick the net at (about) equal
size: 5 layers each, PixelCNN 2h = 64 filters (74.6k parameters), Gated PixelCNN p = 28
(73.4k parameters); ``resample`` binarizes by Bernoulli draws each time an image is visited
(data.binarize='resample'; default 'fixed': pixel > 0.5 once); ``long`` trains 10x longer;
``smoke`` (tiny, for tests).

Data: data.scale='levels' gives the integers {0, 1} as float32; the test NLL is reported on the
binarized test split (fixed thresholding for 'fixed', one Bernoulli draw per test image for
'resample'), in nats per image (eval/loss with loss.reduction='per_image', eval/nll).
Runtime (2-core CPU shared with ~5 other jobs, load average 12-17, jax 0.12): measured 15 min
(PixelCNN) and 22 min (Gated) wall for the 2000 steps at batch 16 (32k images, 0.53 epochs) plus
the evaluation of the 10k test images and 16 fast samples; ~3-5 steps/s.
Expected result (measured, seed 0, 'fixed' binarization, 2000 steps): test NLL 112.30 nats per
image for PixelCNN and 112.19 for Gated PixelCNN (0.2066 / 0.2064 bits/dim): Gated ahead by
only 0.1 nat at this tiny budget (one seed). ``gated,resample``: 248.13 nats (0.4566 bits/dim;
3.9 min wall at a lighter load): mid-grey pixels become irreducible coin flips. No published likelihood exists for binarized
Fashion-MNIST; the paper's number for PixelCNN on binarized MNIST is 81.30 nats
(van den Oord et al. 2016a, Table 4; Diagonal BiLSTM 79.20) -- a different, easier data set.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('pixelcnn')
  config.seed = 0
  config.data.name = 'fashion_mnist'
  config.data.scale = 'levels'
  config.data.binarize = 'fixed'
  config.model.net = 'pixelcnn'
  config.model.filters = 32
  config.model.blocks = 5
  config.model.output = 'bernoulli'
  config.loss.reduction = 'per_image'
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
    c.model.filters = 14

  def resample(c):
    c.data.binarize = 'resample'

  def long(c):
    c.train.steps *= 10
    c.train.checkpoint_every = 2000

  def smoke(c):
    common.smoke(c, steps=5, batch_size=16, eval_batch_size=64, num_samples=4)
    c.model.filters = 4
    c.model.blocks = 1
    c.data.max_examples = 256

  return cfg.select(config, arg, smoke=smoke, pixelcnn=pixelcnn, gated=gated, resample=resample,
                    long=long)
