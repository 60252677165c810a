"""MADE (one mask, a 32-mask ensemble), NADE, PixelCNN and Gated PixelCNN: exact test NLL in nats
per image on binarized Fashion-MNIST (x > 0.5 of the 8-bit image, ``data.binarize='fixed'``, as
experiments/made/fashion_binary.py and experiments/pixelcnn/fashion_binary.py train), every row
on the same first 2000 test images; the papers' rows are binarized MNIST.

    python -m launch.table experiments/tables/binarized_likelihood.py --scale laptop

Time: an estimate, about 80 minutes on this 2-core CPU (per seed: MADE 5000 steps 2.5 min, the
ensemble 3.5, NADE 2000 steps 5, each PixelCNN 600 steps 6, evaluations 3), to be replaced by the
measured time (smoke: 6.1 minutes). Results:
experiments/tables/results/binarized_likelihood_laptop.md.
"""

from experiments.tables import references
from jaxgen.tables.spec import Claim, Column, Compare, Row, RunSpec, Scale, Table

MADE, PIXELCNN = 'experiments/made/fashion_binary.py', 'experiments/pixelcnn/fashion_binary.py'
MADE_PAPER = 'experiments/made/mnist_binary_paper.py'
_MADE = references.MADE_BINARIZED_MNIST.values
# label, run key, the paper's binarized-MNIST NLL ('-': not reported)
ROWS = (('MADE (1 mask)', 'made_binary', _MADE[('1 hidden layer', '1 mask')]),
        ('MADE (32-mask ensemble)', 'made_binary_ensemble', _MADE[('1 hidden layer', '32 masks')]),
        ('NADE', 'nade_binary', _MADE['NADE']),
        ('PixelCNN', 'pixelcnn_binary', references.PIXELCNN_BINARIZED_MNIST.values['PixelCNN']),
        ('Gated PixelCNN', 'gated_pixelcnn_binary', '-'))
# laptop: training steps per run (MADE's and the ensemble's: the experiments' 5000)
LAPTOP_STEPS = {'nade_binary': 2000, 'pixelcnn_binary': 600, 'gated_pixelcnn_binary': 600}


def _runs(suffix: str = '') -> dict:
  """The Fashion-MNIST runs, with `suffix` (``',smoke'``) appended to each config's variants."""
  def v(path, variant):
    variants = ','.join(x for x in (variant, suffix.lstrip(',')) if x)
    return path + (':' + variants if variants else '')
  specs = {'made_binary': v(MADE, ''), 'made_binary_ensemble': v(MADE, 'ensemble'),
           'nade_binary': v(MADE, 'nade'), 'pixelcnn_binary': v(PIXELCNN, 'pixelcnn'),
           'gated_pixelcnn_binary': v(PIXELCNN, 'gated')}
  return {k: RunSpec(c, {} if suffix or k not in LAPTOP_STEPS else {'train.steps': LAPTOP_STEPS[k]})
          for k, c in specs.items()}


# Paper scale: MNIST from TFDS; MADE / NADE in the paper's config, the PixelCNNs in the binarized
# Fashion config on MNIST for 20,000 steps (the Pixel RNN paper does not print its MNIST PixelCNN).
MNIST = {'data.name': 'tfds:mnist'}
PAPER_RUNS = {'made_binary': RunSpec(MADE_PAPER), 'made_binary_ensemble':
              RunSpec(MADE_PAPER + ':ensemble'), 'nade_binary': RunSpec(MADE_PAPER + ':nade'),
              'pixelcnn_binary': RunSpec(PIXELCNN + ':pixelcnn,long', MNIST),
              'gated_pixelcnn_binary': RunSpec(PIXELCNN + ':gated,long', MNIST)}


def get_table():
  return Table(
      name='binarized_likelihood',
      title='MADE, NADE, PixelCNN, Gated PixelCNN: exact NLL on binarized images',
      source=f'{references.MADE_BINARIZED_MNIST.source.paper}, '
             f'{references.MADE_BINARIZED_MNIST.source.where} (MADE, NADE); '
             f'{references.PIXELCNN_BINARIZED_MNIST.source.paper} (PixelCNN)',
      paper_setting='binarized MNIST test set (the papers\' binarization), nats per image; the '
                    'MADE rows one hidden layer of 500 units. Ours: binarized Fashion-MNIST, so '
                    'only the order compares',
      columns=(Column('nll', 'NLL (nats/image)', 'lower', '.2f'),
               Column('bpd', 'bits/dim', 'lower', '.4f'),
               Column('num_params', 'parameters', '', ',d')),
      rows=tuple(Row(label, run, paper={'nll': nll}) for label, run, nll in ROWS),
      metrics=('nll', 'bpd'),
      scales={
          'smoke': Scale('Smoke: 5-step runs on 256 binarized Fashion-MNIST (or stand-in) images, '
                         'one evaluation batch of 64 (meaningless numbers).', _runs(',smoke'),
                         {'eval.batch_size': 64, 'eval.num_batches': 1}, seeds=(0, 1)),
          'laptop': Scale('Laptop: binarized Fashion-MNIST (Debian\'s dataset-fashion-mnist, x > '
                          '0.5), MADE 5000 steps at batch 100 (the ensemble: 32 order-agnostic '
                          'masks), NADE 2000, the PixelCNNs 600 at batch 16; the first 2000 test '
                          'images.', _runs(), {'eval.batch_size': 500, 'eval.num_batches': 4},
                          seeds=(0, 1, 2)),
          'paper': Scale('Paper: binarized MNIST (TFDS, x > 0.5), the whole test set.',
                         PAPER_RUNS, {'eval.batch_size': 500, 'eval.num_batches': 20}),
      },
      claims=(Claim('An order-agnostic MADE averaged over 32 masks has a lower NLL than MADE '
                    'with one mask (Germain et al. 2015, Table 6)',
                    (Compare('MADE (32-mask ensemble)', 'MADE (1 mask)', 'nll'),)),
              Claim('PixelCNN has a lower NLL than MADE and NADE (van den Oord et al. 2016, '
                    'binarized MNIST)', (Compare('PixelCNN', 'MADE (1 mask)', 'nll'),
                                         Compare('PixelCNN', 'NADE', 'nll'))),
              Claim('Gated PixelCNN has a lower NLL than PixelCNN (van den Oord et al. 2016b, on '
                    'CIFAR-10)', (Compare('Gated PixelCNN', 'PixelCNN', 'nll'),))),
      notes='The ensemble row is its own run (trained on 32 orderings and connectivities, one per '
            'minibatch), evaluated with the 32 masks\' probabilities averaged; the 1-mask row is '
            'a separately trained natural-order MADE. Each run is evaluated at its last step.')
