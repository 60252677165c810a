"""VE predictor-corrector sampling: the Langevin corrector's signal-to-noise ratio chosen on a
validation criterion (FD against training images, not the test set), in both corrector orders,
as the paper tuned snr before its Table 1.

    python -m launch.table experiments/tables/score_sde_snr.py --scale laptop

Laptop: 3 training seeds x 2 keys, 33 minutes on this 2-core CPU (5.4 training, 27.2 evaluation).
Results: experiments/tables/results/score_sde_snr_laptop.md; the snr chosen here is
`score_sde_samplers.SNR['ve']`.
"""

from experiments.tables import runs
from jaxgen.tables.spec import Claim, Column, Compare, Plot, Row, Scale, Table

SNRS = (0.04, 0.08, 0.12, 0.16, 0.24)
N = {'smoke': 2, 'laptop': 100, 'paper': 1000}
PC = {'sampling.method': 'pc', 'sampling.predictor': 'reverse_diffusion',
      'sampling.probability_flow': False, 'sampling.n_steps_each': 1}


def _rows():
  rows = [Row('P 2N', 'score_sde_ve',
              scale_overrides={s: {**PC, 'sampling.corrector': 'none', 'sampling.snr': 0.0,
                                   'sampling.steps': 2 * n}
                               for s, n in N.items()})]
  # The corrector-first order only at the paper's snr: with the exact score the two orders never
  # differ (results/pc_exact_score.md).
  for first, snrs in ((False, SNRS), (True, (0.16,))):
    for snr in snrs:
      order = 'corrector first' if first else 'predictor first'
      rows.append(Row(f'PC N snr={snr:g} {order}', 'score_sde_ve',
                      scale_overrides={s: {**PC, 'sampling.corrector': 'langevin',
                                           'sampling.snr': snr, 'sampling.steps': n,
                                           'sampling.corrector_first': first}
                                       for s, n in N.items()},
                      series='' if first else 'PC N', scales=() if snr == 0.16 else ('laptop', 'paper')))
  return tuple(rows)


# At the paper's snr (CIFAR-10's 0.16) PC N beats P 2N on the validation criterion, in each order.
CLAIM = tuple(Compare(f'PC N snr=0.16 {order}', 'P 2N', 'fd')
              for order in ('predictor first', 'corrector first'))


def get_table():
  return Table(
      name='score_sde_snr',
      title='VE predictor-corrector: the corrector\'s snr on a validation criterion',
      source='Song et al., Score-Based Generative Modeling through SDEs (ICLR 2021), Appendix G '
             '(snr tuned per data set; 0.16 for CIFAR-10 VE)',
      paper_setting='',
      columns=(Column('fd', 'FD', 'lower'), Column('kid', 'KID', 'lower', '.4f'),
               Column('sampling.snr', 'snr', '', '.2f'), Column('nfe', 'NFE', '', '.0f')),
      rows=_rows(), metrics=('fd', 'kid'), plot=Plot('sampling.snr', 'fd'),
      scales={
          'smoke': Scale('Smoke: the 4-step digits VE run (meaningless numbers), N = 2, 8 samples '
                         'against training images.', runs.SMOKE,
                         {'eval.num_samples': 8, 'eval.reference': 'train'},
                         seeds=(0, 1), keys=(0, 1)),
          'laptop': Scale('Laptop: the VE run of experiments/score_sde/digits.py (1500 steps), '
                          'N = 100, reverse-diffusion predictor; FD / KID of 500 samples against '
                          'the 1500 training images (the validation criterion) in the pinned '
                          'digits classifier\'s features.', runs.LAPTOP,
                          {'eval.num_samples': 500, 'eval.reference': 'train'},
                          seeds=(0, 1, 2), keys=(0, 1)),
      },
      claims=(Claim('PC N beats P 2N at snr 0.16, in either order', CLAIM),))
