"""MADE on binarized MNIST (TFDS) in the paper's one-hidden-layer config (Germain et al. 2015).

    python -m launch.train --config experiments/made/mnist_binary_paper.py --workdir runs/made_mnist

One layer of 500 ReLU units, batch 100, 50000 train / 10000 validation images (val/nll picks the
best checkpoint); 1 natural-order mask. Variants: ``smoke``, ``ensemble`` (32 order-agnostic
masks averaged at test), ``nade`` (NADE, 500 units). Binarization x > 0.5, not the paper's fixed
stochastic one (Salakhutdinov & Murray 2008). Runtime: hours on this 2-core CPU (not run here).
Expected (the paper's Table 6, experiments/tables/references.py MADE_BINARIZED_MNIST): test NLL
88.40 nats per image with one mask, 88.04 with 32 masks (86.64: two hidden layers, 32 masks);
NADE 88.33.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('made')
  config.seed = 0
  config.data.name = 'tfds:mnist'
  config.data.scale = 'levels'
  config.data.binarize = 'fixed'
  config.data.validation = 10000
  config.model.hidden = (500,)
  config.loss.reduction = 'per_image'
  config.optim.lr = 1e-3
  config.optim.grad_clip = 0.0
  config.optim.ema_rate = 0.0
  config.train.steps = 100_000
  config.train.batch_size = 100
  config.train.log_every = 500
  config.train.checkpoint_every = 2500
  config.train.validation_metric = 'nll'
  config.eval.metrics = ('loss', 'nll', 'bpd')
  config.eval.batch_size = 500
  config.eval.use_ema = False
  config.sampling.num_samples = 64

  def ensemble(c):
    c.model.num_masks = c.model.eval_masks = 32
    c.model.order_agnostic = True

  def nade(c):
    c.model.net = 'nade'

  def smoke(c):
    common.smoke(c, steps=5, batch_size=8, eval_batch_size=8, num_samples=4)
    c.data.validation = 16
    c.data.max_examples = 128
    c.model.hidden = (8,)

  return cfg.select(config, arg, smoke=smoke, ensemble=ensemble, nade=nade)
