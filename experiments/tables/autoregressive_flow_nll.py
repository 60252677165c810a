"""NICE and the PixelCNN family (PixelCNN, Gated PixelCNN, PixelCNN++): test bits/dim, each model
against the one before it, the PixelCNNs early-stopped by their validation bits/dim.

    python -m launch.table experiments/tables/autoregressive_flow_nll.py --scale laptop

Time and results: experiments/tables/results/autoregressive_flow_nll_laptop.md (the same family
on Fashion-MNIST: fashion_likelihood_laptop.md).
"""

import math

from experiments.tables import references
from experiments.tables import runs
from jaxgen.tables.spec import Claim, Column, Compare, Row, Scale, Table

# NICE's MNIST log-likelihood (nats per 28x28 image in [0, 1]) as bits/dim of 256 levels.
_NICE_BPD = 8 - references.NICE_LOG_LIKELIHOOD.values['MNIST'] / (784 * math.log(2))
_PIXELCNN = references.PIXELCNN_FAMILY_CIFAR10.values
# Paper scale holds out 5000 CIFAR-10 training images to early-stop on, as laptop holds out 150.
HELD_OUT = {'data.validation': 5000, 'train.validation_metric': 'bpd'}
ROWS = (('NICE', 'nice', _NICE_BPD), ('PixelCNN', 'pixelcnn', _PIXELCNN['PixelCNN']),
        ('Gated PixelCNN', 'gated_pixelcnn', _PIXELCNN['Gated PixelCNN']),
        ('PixelCNN++', 'pixelcnn_pp', _PIXELCNN['PixelCNN++']))

FINE = 'PixelCNN++, checked every 50 steps'


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
               Column('likelihood', 'likelihood'),
               Column('num_params', 'parameters', '', ',d'),
               Column('likelihood_seconds', 'likelihood s', '', '.1f')),
      rows=tuple(Row(label, run, paper={'bpd': bpd},
                     scales=() if label in ('NICE', 'PixelCNN++') else ('laptop', 'paper'),
                     step=None if run == 'nice' else 'best')
                 for label, run, bpd in ROWS) + (
          Row(FINE, 'pixelcnn_pp_fine', paper={'bpd': _PIXELCNN['PixelCNN++']},
              scales=('laptop',), step='best'),),
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
                                                   {'model.net': 'pixelcnn', **HELD_OUT}),
                          'gated_pixelcnn': runs.RunSpec('experiments/pixelcnn/cifar10.py',
                                                         {'model.net': 'gated', **HELD_OUT}),
                          'pixelcnn_pp': runs.RunSpec('experiments/pixelcnn/cifar10.py',
                                                      HELD_OUT)}),
      },
      claims=(Claim('Each later model has a better (lower) bits/dim than the earlier one',
                    _in_order('bpd')),
              Claim('PixelCNN++ beats Gated PixelCNN once early stopping can catch its minimum '
                    '(a checkpoint every 50 steps)',
                    (Compare(FINE, 'Gated PixelCNN', 'bpd'),))),
      notes='The PixelCNNs are evaluated at the checkpoint of their lowest validation bits/dim '
            '(150 of the 1500 digits training images held out, a checkpoint every 200 steps: '
            'early stopping), since 3000 steps are 128 epochs of 1350 images and the larger '
            'models overfit them. PixelCNN++ reaches its best validation bits/dim at the first '
            'or second checkpoint, so the last row trains it for 1000 steps with a checkpoint '
            'every 50 steps: the same model, with early stopping fine enough to find its '
            'minimum.')
