"""The two-stage VQ-VAE on Fashion-MNIST (a VQ-VAE, then a Gated PixelCNN prior over its 7x7
codes) beside the pixel-space Gated PixelCNN: reconstruction error, codebook usage and
perplexity, the prior's NLL in bits per code, the two-stage bound in bits/dim and the FD of
decoded samples in the pinned classifier's features.

    python -m launch.table experiments/tables/vqvae_two_stage.py --scale laptop

Time: an estimate, about 65 minutes on this 2-core CPU (per seed: VQ-VAE 500 steps 6 min, codes
2, prior 500 steps 2.5, two-stage evaluation 1.5, Gated PixelCNN 600 steps 6 and its 1000
samples about 4), to be replaced by the measured time (smoke: 5.3 minutes). Results:
experiments/tables/results/vqvae_two_stage_laptop.md.
"""

from experiments.tables import references
from experiments.tables import runs
from jaxgen.tables.spec import Column, Row, RunSpec, Scale, Table

VQVAE, PRIOR = 'experiments/vqvae/fashion_mnist.py', 'experiments/vqvae/fashion_prior.py'
STEPS = 500   # laptop: the VQ-VAE's and the prior's training steps
TWO_STAGE = 'VQ-VAE + Gated PixelCNN prior'
PIXEL = 'Gated PixelCNN (pixel space)'


def _runs(suffix: str = '') -> dict:
  """The VQ-VAE, its prior (on its codes) and the pixel-space Gated PixelCNN of the cross-family
  likelihood table (`runs`), with `suffix` (``',smoke'``) appended to the variants."""
  short = {} if suffix else {'train.steps': STEPS}
  shared = runs.SMOKE if suffix else runs.LAPTOP
  return {'vqvae_fashion': RunSpec(VQVAE + suffix.replace(',', ':'), short),
          'vqvae_prior_fashion': RunSpec(PRIOR + suffix.replace(',', ':'), short,
                                         codes_from='vqvae_fashion'),
          'gated_pixelcnn_fashion': shared['gated_pixelcnn_fashion']}


def get_table():
  paper = references.VQVAE_CIFAR10
  return Table(
      name='vqvae_two_stage',
      title='VQ-VAE with a PixelCNN prior over its codes, beside a pixel-space PixelCNN',
      source=f'{paper.source.paper}, {paper.source.where}',
      paper_setting='CIFAR-10, the bound in bits/dim of a VQ-VAE with a PixelCNN prior (the '
                    'paper prints no reconstruction, usage or sample scores); ours: '
                    'Fashion-MNIST',
      columns=(Column('fd', 'FD', 'lower', '.2f'),
               Column('recon_mse', 'recon MSE', 'lower', '.4f'),
               Column('usage', 'codebook usage', 'higher', '.3f'),
               Column('perplexity', 'code perplexity', 'higher', '.1f'),
               Column('prior_bits_per_code', 'prior bits/code', 'lower', '.3f'),
               Column('two_stage_bpd', 'two-stage bound bits/dim', 'lower', '.3f'),
               Column('bpd', 'exact bits/dim', 'lower', '.3f')),
      rows=(Row(TWO_STAGE, 'vqvae_prior_fashion', metrics=('fd',),
                paper={'two_stage_bpd': paper.values['VQ-VAE']}),
            Row(PIXEL, 'gated_pixelcnn_fashion', metrics=('bpd', 'fd'))),
      scales={
          'smoke': Scale('Smoke: 4-step runs on 256 Fashion-MNIST (or stand-in) images, 16 '
                         'samples (meaningless numbers).', _runs(',smoke'),
                         {'eval.num_samples': 16}, seeds=(0, 1)),
          'laptop': Scale('Laptop: Fashion-MNIST (Debian\'s dataset-fashion-mnist); the VQ-VAE '
                          f'(K = 128 codes of d = 32 on a 7x7 grid) and its prior {STEPS} steps '
                          f'at batch 64, the Gated PixelCNN {runs.FASHION_STEPS} at batch 16 '
                          '(the cross-family table\'s run); 1000 samples per FD.', _runs(),
                          {'eval.num_samples': 1000}, seeds=(0, 1, 2)),
      },
      notes='The two-stage row is evaluated by launch.two_stage on the prior run: the bits and '
            'the codes\' numbers over the whole test split (recon MSE on [0, 1], usage: the '
            'fraction of the K codes used, perplexity of their frequencies), FD of samples '
            'decoded by the VQ-VAE. The pixel-space row\'s bits/dim is exact, the two-stage one '
            'a bound (decoder likelihood plus the prior\'s bits, per pixel).')
