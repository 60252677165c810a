"""NICE and the PixelCNN family (PixelCNN, Gated PixelCNN, PixelCNN++): test bits/dim, each model
against the one before it.

    python -m launch.table experiments/tables/autoregressive_flow_nll.py --scale laptop

Laptop: `experiments/nice/digits.py` and `experiments/pixelcnn/digits.py` on the 297 test images,
every bits/dim by `jaxgen.metrics.bpd` on the same 17 levels. Claim: each later model is better.
Time on this 2-core CPU: about 37 minutes.
Headline: NICE is worst; the later PixelCNNs overfit 1500 images and lose to PixelCNN on test.
Results: experiments/tables/results/autoregressive_flow_nll_laptop.md.
"""

import math

from experiments.tables import references
from experiments.tables import runs
from jaxgen.tables.spec import Claim, Column, Compare, Row, Scale, Table

# NICE's MNIST log-likelihood (nats per 28x28 image in [0, 1]) as bits/dim of 256 levels.
_NICE_BPD = 8 - references.NICE_LOG_LIKELIHOOD.values['MNIST'] / (784 * math.log(2))
_PIXELCNN = references.PIXELCNN_FAMILY_CIFAR10.values
ROWS = (('NICE', 'nice', _NICE_BPD), ('PixelCNN', 'pixelcnn', _PIXELCNN['PixelCNN']),
        ('Gated PixelCNN', 'gated_pixelcnn', _PIXELCNN['Gated PixelCNN']),
        ('PixelCNN++', 'pixelcnn_pp', _PIXELCNN['PixelCNN++']))


def _in_order(column):
  """Each row below the one before it in `column`."""
  return tuple(Compare(later, earlier, column)
               for (earlier, _, _), (later, _, _) in zip(ROWS, ROWS[1:]))


def get_table():
  return Table(
      name='autoregressive_flow_nll',
      title='NICE, PixelCNN, Gated PixelCNN, PixelCNN++: test bits/dim',
      source=f'{references.NICE_LOG_LIKELIHOOD.source.paper} (MNIST, in bits/dim); '
             f'{references.PIXELCNN_FAMILY_CIFAR10.source.paper} (CIFAR-10)',
      paper_setting='NICE on MNIST (dequantized, 256 levels), the PixelCNNs on CIFAR-10 test: '
                    'different data sets, so only the order compares',
      columns=(Column('bpd', 'bits/dim', 'lower'),
               Column('train/bpd', 'train bits/dim (last logged batch)', '', '.3f'),
               Column('likelihood', 'likelihood'),
               Column('num_params', 'parameters', '', ',d'),
               Column('likelihood_seconds', 'likelihood s', '', '.1f')),
      rows=tuple(Row(label, run, paper={'bpd': bpd},
                     scales=() if label in ('NICE', 'PixelCNN++') else ('laptop', 'paper'))
                 for label, run, bpd in ROWS),
      metrics=('bpd',),
      scales={
          'smoke': Scale('Smoke: 5-step digits runs (meaningless numbers).', runs.SMOKE,
                         seeds=(0, 1), keys=(0, 1)),
          'laptop': Scale('Laptop: scikit-learn digits (17 levels; the uniform model: log2(17) = '
                          '4.09 bits/dim), the 297 test images.', runs.LAPTOP,
                          seeds=(0, 1, 2)),
          'paper': Scale('Paper: not one data set (see the sources); at paper scale these rows '
                         'run the PixelCNN CIFAR-10 config and NICE on TFDS MNIST.',
                         {'nice': runs.RunSpec('experiments/nice/tfds_mnist.py'),
                          'pixelcnn': runs.RunSpec('experiments/pixelcnn/cifar10.py',
                                                          {'model.net': 'pixelcnn'}),
                          'gated_pixelcnn': runs.RunSpec('experiments/pixelcnn/cifar10.py',
                                                                {'model.net': 'gated'}),
                          'pixelcnn_pp': runs.RunSpec('experiments/pixelcnn/cifar10.py')}),
      },
      claims=(Claim('Each later model has a better (lower) bits/dim than the earlier one',
                    _in_order('bpd')),
              Claim('(On the training batches) each later model fits better than the earlier one',
                    _in_order('train/bpd'))),
      notes='Test and training bits/dim differ by 0.3-1.5 on these 1500 training images: the '
            'PixelCNNs overfit (3000 steps are 128 epochs), the larger the model the more. The '
            'training column is the last logged training batch (dropout on for PixelCNN++), not '
            'a pass over the training set.')
