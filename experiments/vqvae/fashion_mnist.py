"""VQ-VAE on 8-bit Fashion-MNIST: 28x28 images as 7x7 grids of K = 128 codes (d = 32).

    python -m launch.train --config experiments/vqvae/fashion_mnist.py --workdir runs/vqvae_fashion

Variants: ``smoke``, ``ema`` (EMA codebook updates instead of the codebook loss term).
eval/bpd is the paper's bound with a uniform prior over the codes (decoder likelihood + 49 log2 K
bits per image, per 784 dims); training logs recon_mse, usage and perplexity.
Runtime: 6 minutes for 500 steps at batch 64 on this shared 2-core CPU (2000: about 4x).
Expected result after 500 steps: test bound 4.18 bits/dim, MSE 0.017, usage 0.98, perplexity 67.
Then: python -m launch.encode_codes --workdir runs/vqvae_fashion, and a prior on the codes
(experiments/vqvae/fashion_prior.py).
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('vqvae')
  config.seed = 0
  config.data.name = 'fashion_mnist'
  config.data.scale = 'levels'
  config.model.hidden = 64
  config.model.res_hidden = 32
  config.model.res_blocks = 2
  config.model.downsample = 4
  config.model.num_codes = 128
  config.model.code_dim = 32
  config.model.codebook_update = 'loss'
  config.model.restart_after = 100
  config.loss.beta = 0.25
  config.optim.lr = 1e-3
  config.optim.grad_clip = 0.0
  config.optim.ema_rate = 0.0
  config.train.steps = 2000
  config.train.batch_size = 64
  config.train.log_every = 100
  config.train.checkpoint_every = 500
  config.eval.metrics = ('loss', 'bpd')
  config.eval.batch_size = 500
  config.eval.use_ema = False
  config.sampling.num_samples = 16

  def ema(c):
    c.model.codebook_update = 'ema'
    c.model.ema_decay = 0.99

  def smoke(c):
    common.smoke(c, steps=4, batch_size=16, eval_batch_size=64, num_samples=4)
    c.model.hidden, c.model.res_hidden, c.model.res_blocks = 8, 4, 1
    c.model.num_codes, c.model.code_dim = 16, 4
    c.model.restart_after = 2
    c.data.max_examples = 256

  return cfg.select(config, arg, smoke=smoke, ema=ema)
