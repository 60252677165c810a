"""NICE on MNIST through TFDS with the paper's hyperparameters (Dinh et al. 2014).

    tfds build mnist --file_format=array_record          # once, where there is a network
    python -m launch.train --config experiments/nice/tfds_mnist.py --workdir runs/nice_mnist

1500 epochs on train[:50000] at batch 200 (375k steps), ``scale_mult = 1``; the last model is
evaluated (select by validation with ``eval_split='train[50000:]'``). Variants: ``smoke``.
Runtime: about 2 days on this 2-core CPU (not run here: no network for the data).
Expected result (the paper's, +log p): test log-likelihood 1980.50 nats, i.e. eval/nll near
-1980 and eval/bpd near 4.36.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('nice')
  config.seed = 0
  config.data.name = 'tfds:mnist'
  config.data.train_split = 'train[:50000]'
  config.data.eval_split = 'test'
  config.data.scale = 'unit'
  config.data.dequantize = True
  config.model.num_couplings = 4
  config.model.hidden = 1000
  config.model.depth = 5
  config.model.prior = 'logistic'
  config.model.split = 'odd_even'
  config.model.kernel_init = 'uniform'
  config.model.init_range = 0.01
  config.model.scale_mult = 1.0
  config.loss.reduction = 'per_example'
  config.optim.optimizer = 'adam'
  config.optim.lr = 1e-3
  config.optim.b1 = 0.9
  config.optim.b2 = 0.99
  config.optim.eps = 1e-4
  config.optim.grad_clip = 0.0
  config.optim.ema_rate = 0.0
  config.train.steps = 375_000
  config.train.batch_size = 200
  config.train.log_every = 250
  config.train.checkpoint_every = 2500
  config.eval.metrics = ('loss', 'nll', 'bpd')
  config.eval.batch_size = 500
  config.eval.use_ema = False
  config.sampling.num_samples = 64

  def smoke(c):
    common.smoke(c, steps=5, batch_size=8, eval_batch_size=8, num_samples=8)
    c.data.train_split = 'train'
    c.model.num_couplings = 2
    c.model.hidden = 32
    c.model.depth = 2
    c.sampling.inpaint_steps = 10

  return cfg.select(config, arg, smoke=smoke)
