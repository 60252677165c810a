"""A Gated PixelCNN prior over the 7x7 codes of the Fashion-MNIST VQ-VAE (a categorical over K).

    python -m launch.train --config experiments/vqvae/fashion_prior.py --workdir runs/vq_prior

Needs the codes: python -m launch.encode_codes --workdir runs/vqvae_fashion (the VQ-VAE of
experiments/vqvae/fashion_mnist.py); another folder: --config.data.name=codes:FOLDER.
eval/bpd is the prior's NLL in bits per code (D = 49). Decoded samples and their FD / IS:
python -m launch.two_stage --workdir runs/vq_prior --metrics fd,is
Runtime: 2.2 minutes for 500 steps (that VQ-VAE at 500 steps); codes: 1.7 min; two_stage 1.1 min.
Expected result after 500 steps: 3.84 bits per code (uniform: 7), bound 3.98 bits/dim, FD 3.5.
Variants: ``smoke``, ``conditional`` (class-conditional: rows of the picture are classes).
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('pixelcnn')
  config.seed = 0
  config.data.name = 'codes:runs/vqvae_fashion/codes'
  config.data.scale = 'levels'
  config.model.net = 'gated'
  config.model.filters = 32
  config.model.blocks = 5
  config.model.output = 'categorical'
  config.loss.reduction = 'per_dim'
  config.optim.lr = 1e-3
  config.optim.grad_clip = 0.0
  config.optim.ema_rate = 0.0
  config.train.steps = 2000
  config.train.batch_size = 64
  config.train.log_every = 100
  config.train.checkpoint_every = 500
  config.eval.metrics = ('loss', 'nll', 'bpd')
  config.eval.batch_size = 500
  config.eval.use_ema = False
  config.sampling.method = 'fast'
  config.sampling.num_samples = 16

  def conditional(c):
    c.model.num_classes = 10
    c.sampling.num_samples = 100

  def smoke(c):
    common.smoke(c, steps=4, batch_size=16, eval_batch_size=64, num_samples=4)
    c.model.filters = 4
    c.model.blocks = 1

  return cfg.select(config, arg, smoke=smoke, conditional=conditional)
