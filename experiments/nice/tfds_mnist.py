"""NICE on MNIST through TFDS with the paper's hyperparameters (for users who have the network).

    tfds build mnist --file_format=array_record          # once, where there is a network
    python -m launch.train --config experiments/nice/tfds_mnist.py --workdir runs/nice_mnist
    python -m launch.evaluate --workdir runs/nice_mnist
    python -m launch.inpaint --workdir runs/nice_mnist

The paper's MNIST setting (Dinh, Krueger, Bengio 2014): 4 additive coupling layers, odd/even
split alternating, coupling MLPs of 5 hidden ReLU layers x 1000 units, diagonal scaling exp(s),
standard logistic prior; data (255 x + u) / 256 (data.scale='unit', data.dequantize=True); Adam
lr 1e-3 (the paper's text gives momentum 0.9, beta2 = 0.01, eps = 1e-4 in the early Adam notation,
i.e. optax b2 = 0.99 -- our reading, not re-checked here), batch 200 (the released code's; it used
RMSProp with momentum and lr decay 1.0005 per batch down to 1e-4), 1500 epochs on the first 50,000
training images (train[:50000]; the released code kept 50k/10k train/valid) = 375,000 steps.
The paper keeps the best model on the validation set; this config trains for the fixed budget and
evaluates the last one (select by validation yourself with eval_split='train[50000:]').
Parameterisation as the paper's: scale_mult = 1 (fashion_mnist.py uses 30 for short CPU runs).

Runtime: ~0.45 s/step on this 2-core CPU with no other load (benchmarks/nice_throughput.py),
i.e. ~2 days for 375k steps; the same script runs unchanged on a GPU (not measured here).
Expected result (the paper's Table, test log-likelihood in nats per image, +log p):
MNIST 1980.50 (= 8 - 1980.50 / (784 ln 2) = 4.36 bits/dim), TFD 5514.71, SVHN 11496.55,
CIFAR-10 5371.78. Our evaluate reports eval/nll = -log p, so expect eval/nll near -1980 and
eval/bpd near 4.36 after the full schedule (not verified here: no network on this machine).

Variants: ``smoke`` (2 couplings, width 32, 5 steps; on a stand-in where MNIST is not here).
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
