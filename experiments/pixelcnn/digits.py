"""PixelCNN family on scikit-learn's 8x8 `digits` (17 levels, 0..16): a quick exact-likelihood run.

    python -m launch.train --config experiments/pixelcnn/digits.py --workdir runs/pcnn_digits
    python -m launch.train --config experiments/pixelcnn/digits.py:pixelcnn --workdir runs/pcnn_digits_plain
    python -m launch.train --config experiments/pixelcnn/digits.py:pp --workdir runs/pcnn_digits_pp

Variants: default Gated PixelCNN (p = 32, 5 layers, 17-way softmax); ``pixelcnn`` (2h = 64,
5 blocks); ``pp`` (PixelCNN++, 32 filters, 2 resnets/stage, 2 scales 8/4, 5-component discretized
logistic mixture over the 17 levels, fast cached sampler); ``smoke`` (tiny, for tests).
Data: data.scale='levels' (integers 0..16 as float32); 1500 train / 297 test images.
Runtime (2-core CPU shared with other jobs, jax 0.12): about 3-5 minutes for 3000 steps at batch
64, plus a few seconds to evaluate and sample.
Expected result: test bits/dim well below the uniform model's log2(17) = 4.09 bits/dim (not
measured in this session; no paper reports this set). Samples (samples/*.png) should look like
blurry digits.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('pixelcnn')
  config.seed = 0
  config.data.name = 'digits'
  config.data.scale = 'levels'
  config.model.net = 'gated'
  config.model.filters = 32
  config.model.blocks = 5
  config.model.output = 'categorical'
  config.optim.lr = 1e-3
  config.optim.grad_clip = 0.0
  config.optim.ema_rate = 0.0
  config.train.steps = 3000
  config.train.batch_size = 64
  config.train.log_every = 200
  config.train.checkpoint_every = 1000
  config.eval.metrics = ('loss', 'nll', 'bpd')
  config.eval.batch_size = 297
  config.eval.use_ema = False
  config.sampling.num_samples = 64

  def pixelcnn(c):
    c.model.net = 'pixelcnn'
    c.model.filters = 64

  def pp(c):
    c.model.net = 'pixelcnn_pp'
    c.model.filters = 32
    c.model.blocks = 2
    c.model.scales = 2
    c.model.dropout = 0.1
    c.model.output = 'logistic_mixture'
    c.model.num_mixtures = 5
    c.sampling.method = 'fast'  # the cached sampler: the plain sampler's images, faster

  def smoke(c):
    common.smoke(c, steps=5, batch_size=16, eval_batch_size=64, num_samples=4)
    c.model.filters = 4
    c.model.blocks = 1

  return cfg.select(config, arg, smoke=smoke, pixelcnn=pixelcnn, pp=pp)
