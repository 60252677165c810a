"""VQ-VAE on CIFAR-10 as the paper's Sec. 4.1 sets it (van den Oord et al. 2017), 8x8 codes.

    python -m launch.train --config experiments/vqvae/cifar10.py --workdir runs/vqvae_cifar10

Encoder: two 4x4 stride-2 convolutions, two residual 3x3 blocks, 256 channels; the decoder
mirrors it; Adam 2e-4, batch 128, 250,000 steps. The paper varies K and the latent count and
does not print them for its 4.67 bits/dim: K = 512, d = 64 here (our choice).
eval/bpd: the bound with a uniform prior (experiments/tables/references.py, VQVAE_CIFAR10).
Runtime: days on this CPU (not run here); an accelerator run is hours. Expected result: a bound
near the paper's 4.67 bits/dim. Variants: ``smoke``, ``ema``.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('vqvae')
  config.seed = 0
  config.data.name = 'tfds:cifar10'
  config.data.scale = 'levels'
  config.model.hidden = 256
  config.model.res_hidden = 256
  config.model.res_blocks = 2
  config.model.downsample = 4
  config.model.num_codes = 512
  config.model.code_dim = 64
  config.model.codebook_update = 'loss'
  config.model.restart_after = 0
  config.loss.beta = 0.25
  config.optim.optimizer = 'adam'
  config.optim.lr = 2e-4
  config.optim.grad_clip = 0.0
  config.optim.ema_rate = 0.0
  config.train.steps = 250_000
  config.train.batch_size = 128
  config.train.log_every = 100
  config.train.checkpoint_every = 10_000
  config.eval.metrics = ('loss', 'bpd')
  config.eval.batch_size = 500
  config.eval.use_ema = False
  config.sampling.num_samples = 64

  def ema(c):
    c.model.codebook_update = 'ema'
    c.model.ema_decay = 0.99

  def smoke(c):
    common.smoke(c, steps=4, batch_size=8, eval_batch_size=8, num_samples=4)
    c.model.hidden, c.model.res_hidden, c.model.res_blocks = 8, 4, 1
    c.model.num_codes, c.model.code_dim = 16, 4
    c.data.max_examples = 64

  return cfg.select(config, arg, smoke=smoke, ema=ema)
