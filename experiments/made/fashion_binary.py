"""MADE on binarized Fashion-MNIST (784 Bernoulli pixels, exact likelihood), one hidden layer.

    python -m launch.train --config experiments/made/fashion_binary.py --workdir runs/made_fb

Variants: ``smoke``, ``ensemble`` (32 order-agnostic masks, 32-mask test ensemble), ``nade``.
eval/nll is -log P(x) in nats per image, as experiments/pixelcnn/fashion_binary.py reports.
Runtime on this 2-core CPU (5000 steps at batch 100): 2.3 minutes; ``ensemble`` 3.3 minutes.
Expected result: test NLL 106.8 nats per image; ``ensemble`` 116.2 (order-agnostic training needs
far more steps than this to pay off). No published likelihood exists for binarized Fashion-MNIST.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('made')
  config.seed = 0
  config.data.name = 'fashion_mnist'
  config.data.scale = 'levels'
  config.data.binarize = 'fixed'
  config.model.hidden = (500,)
  config.loss.reduction = 'per_image'
  config.optim.lr = 1e-3
  config.optim.grad_clip = 0.0
  config.optim.ema_rate = 0.0
  config.train.steps = 5000
  config.train.batch_size = 100
  config.train.log_every = 250
  config.train.checkpoint_every = 1000
  config.eval.metrics = ('loss', 'nll', 'bpd')
  config.eval.batch_size = 500
  config.eval.use_ema = False
  config.sampling.num_samples = 16

  def ensemble(c):
    c.model.num_masks = c.model.eval_masks = 32
    c.model.order_agnostic = True

  def nade(c):
    c.model.net = 'nade'

  def smoke(c):
    common.smoke(c, steps=5, batch_size=16, eval_batch_size=64, num_samples=4)
    c.model.hidden = (8,)
    c.data.max_examples = 256

  return cfg.select(config, arg, smoke=smoke, ensemble=ensemble, nade=nade)
