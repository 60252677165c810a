"""NICE and the PixelCNN family: test log-likelihood, each model against the one before it.

    python -m launch.table experiments/tables/autoregressive_flow_nll.py --scale laptop

NICE (Dinh et al. 2014; additive couplings, exact density of uniformly dequantized data), then
PixelCNN (van den Oord et al. 2016, Pixel RNN paper), Gated PixelCNN (van den Oord et al. 2016,
Conditional PixelCNN paper) and PixelCNN++ (Salimans et al. 2017), all exact discrete
likelihoods. Every bits/dim is `jaxgen.metrics.bpd`'s one definition on the same 17 levels of the
digits (NICE: the dequantization bound, which can only be above its discrete likelihood), so the
four numbers compare. Laptop: `experiments/nice/digits.py` (1000 steps) and
`experiments/pixelcnn/digits.py` (3000 steps; ``pixelcnn``, default Gated, ``pp``) on the 297
test images.

Claim: each later model has a better likelihood than the earlier one (the papers: NICE 4.36
bits/dim on MNIST, a different data set; PixelCNN 3.14, Gated 3.03, PixelCNN++ 2.92 bits/dim on
CIFAR-10).

Measured (laptop, 2026-12-02; experiments/tables/results/autoregressive_flow_nll_laptop.md):
training 36 minutes (PixelCNN++ 27 of them), evaluation 1 minute. Test bits/dim: NICE 2.931,
PixelCNN 2.185, Gated 2.304, PixelCNN++ 2.674. Agrees: NICE is worst, every autoregressive
model beats it. Disagrees: Gated and PixelCNN++ do not beat PixelCNN on the test images; on the
training batches they do (1.443 > 1.359 > 1.135): 1500 images and 128 epochs overfit them, the
largest most (616k parameters against 76k). The papers' order is a claim about data sets where
capacity is the limit; here data is.
"""

from experiments.tables import runs
from jaxgen.tables.spec import Claim, Column, Compare, Row, Scale, Table

ROWS = (('NICE', 'nice_digits', 4.36), ('PixelCNN', 'pixelcnn_digits', 3.14),
        ('Gated PixelCNN', 'gated_pixelcnn_digits', 3.03),
        ('PixelCNN++', 'pixelcnn_pp_digits', 2.92))


def _in_order(column):
  """Each row below the one before it in `column`."""
  return tuple(Compare(later, earlier, column)
               for (earlier, _, _), (later, _, _) in zip(ROWS, ROWS[1:]))


def get_table():
  return Table(
      name='autoregressive_flow_nll',
      title='NICE, PixelCNN, Gated PixelCNN, PixelCNN++: test bits/dim',
      source='Dinh et al. 2014 (NICE, Table 2: MNIST 1980.50 nats = 4.36 bits/dim); van den Oord '
             'et al. 2016 (PixelCNN 3.14, Gated 3.03, CIFAR-10); Salimans et al. 2017 '
             '(PixelCNN++ 2.92, CIFAR-10)',
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
                         {'nice_digits': runs.RunSpec('experiments/nice/tfds_mnist.py'),
                          'pixelcnn_digits': runs.RunSpec('experiments/pixelcnn/cifar10.py',
                                                          {'model.net': 'pixelcnn'}),
                          'gated_pixelcnn_digits': runs.RunSpec('experiments/pixelcnn/cifar10.py',
                                                                {'model.net': 'gated'}),
                          'pixelcnn_pp_digits': runs.RunSpec('experiments/pixelcnn/cifar10.py')}),
      },
      claims=(Claim('Each later model has a better (lower) bits/dim than the earlier one',
                    _in_order('bpd')),
              Claim('(On the training batches) each later model fits better than the earlier one',
                    _in_order('train/bpd'))),
      notes='Test and training bits/dim differ by 0.3-1.5 on these 1500 training images: the '
            'PixelCNNs overfit (3000 steps are 128 epochs), the larger the model the more. The '
            'training column is the last logged training batch (dropout on for PixelCNN++), not '
            'a pass over the training set.')
