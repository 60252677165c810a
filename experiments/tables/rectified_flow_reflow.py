"""Rectified Flow (Liu, Gong, Liu, ICLR 2023), the CIFAR-10 table: 1-RF, 2-RF, 3-RF and one-step
distillation; one Euler step vs an adaptive solver; straightness.

    python -m launch.table experiments/tables/rectified_flow_reflow.py --scale laptop

The chain (runs.py): 1-RF (`experiments/rectified_flow/digits.py`), 2-RF fine-tuned from 1-RF's
EMA weights on 5000 reflow pairs of 1-RF (Euler, 100 steps), 3-RF likewise from 2-RF, and 2-RF
distilled to one step (``distill``: regression of z1 - z0 at t = 0 on 2-RF's pairs). Each model
is sampled with one Euler step, 100 Euler steps (where straightness is measured: S =
E int ||(Z1 - Z0) - dZ/dt||^2 dt on that grid, 0 for a straight flow) and dopri5 (rtol = atol =
1e-5, the paper's RK45; its NFE is adaptive). Laptop metrics: FD / IS / KID of 1000 samples in
the pinned digits classifier's features against the 297 test images.

Claim: reflow straightens the flow (S falls from 1-RF to 2-RF to 3-RF) and one-step quality
improves by a large factor (the paper: FID 378 -> 12.2 -> 8.2); distillation improves one step
further; with the adaptive solver 1-RF stays best (2.58 vs 3.36 vs 3.96).

Measured (laptop, 2026-12-02; experiments/tables/results/rectified_flow_reflow_laptop.md): 26
minutes on the 2-core CPU, sharing it with the Fashion-MNIST table (the four train commands 14
min, 8.8 of it logged training; reflow pairs 5 min for two rounds; the 10 rows 6.6 min).
Straightness 1-RF / 2-RF / 3-RF 8.72 / 0.212 / 0.133; one-step FD 55.9 -> 0.488 -> 0.484 (a factor 115 from 1-RF to
2-RF; the paper's 378 -> 12.2 -> 8.2), distilled 0.441; dopri5 FD 0.316 / 0.375 / 0.425 at NFE
271 / 163 / 133 (1-RF at the real-data floor, FD 0.318). All four claims agree. Differs: 3-RF's
one step is barely better than 2-RF's here (the paper: 12.2 -> 8.2), and 100 Euler steps of 2-RF
and 3-RF lose to 1-RF's (0.370, 0.421 vs 0.318): reflow on 5000 pairs of a digits flow costs
quality at many steps as the paper's reflow costs FID with RK45.
"""

from experiments.tables import runs
from jaxgen.tables.spec import Claim, Column, Compare, Plot, Row, Scale, Table

MODELS = (('1-RF', 'rectified_flow_digits'), ('2-RF', 'rectified_flow_digits_2rf'),
          ('3-RF', 'rectified_flow_digits_3rf'))
# The paper's table (CIFAR-10 FID, 50k samples): RK45 and one Euler step.
PAPER = {('1-RF', 'euler1'): 378, ('2-RF', 'euler1'): 12.21, ('3-RF', 'euler1'): 8.15,
         ('1-RF', 'dopri5'): 2.58, ('2-RF', 'dopri5'): 3.36, ('3-RF', 'dopri5'): 3.96,
         ('2-RF distilled', 'euler1'): 4.85}
SAMPLERS = {
    'euler1': ('1 Euler step', {'sampling.solver': 'euler', 'sampling.steps': 1}, ('fd', 'is', 'kid')),
    'euler100': ('100 Euler steps', {'sampling.solver': 'euler', 'sampling.steps': 100},
                 ('fd', 'is', 'kid', 'straightness')),
    'dopri5': ('dopri5', {'sampling.solver': 'dopri5', 'sampling.rtol': 1e-5,
                          'sampling.atol': 1e-5}, ('fd', 'is', 'kid')),
}


def _rows():
  rows = []
  for model, run in MODELS:
    for key, (name, over, metrics) in SAMPLERS.items():
      smoke = key == 'euler1' and model in ('1-RF', '2-RF')
      rows.append(Row(f'{model} {name}', run, over, metrics=metrics, series=model,
                      paper={'fd': PAPER[(model, key)]} if (model, key) in PAPER else {},
                      scales=() if smoke else ('laptop', 'paper'),
                      scale_overrides={'smoke': {'sampling.steps': 2}} if key == 'euler100' else {}))
  rows.append(Row('2-RF distilled 1 Euler step', 'rectified_flow_digits_2rf_distill',
                  SAMPLERS['euler1'][1], metrics=('fd', 'is', 'kid'), series='2-RF distilled',
                  paper={'fd': PAPER[('2-RF distilled', 'euler1')]}))
  return tuple(rows)


# Straighter with each reflow (3-RF: at most 5% above 2-RF); one-step FD of 2-RF below half of
# 1-RF's; distillation below 2-RF's one step; with dopri5 1-RF below 2-RF and 3-RF.
CLAIM_STRAIGHT = (Compare('2-RF 100 Euler steps', '1-RF 100 Euler steps', 'straightness'),
                  Compare('3-RF 100 Euler steps', '2-RF 100 Euler steps', 'straightness',
                          factor=1.05))
CLAIM_ONE_STEP = (Compare('2-RF 1 Euler step', '1-RF 1 Euler step', 'fd', factor=0.5),)
CLAIM_DISTILL = (Compare('2-RF distilled 1 Euler step', '2-RF 1 Euler step', 'fd'),)
CLAIM_ADAPTIVE = (Compare('1-RF dopri5', '2-RF dopri5', 'fd'),
                  Compare('1-RF dopri5', '3-RF dopri5', 'fd'))


def get_table():
  return Table(
      name='rectified_flow_reflow',
      title='Rectified flow: reflow and distillation, one step vs adaptive',
      source='Liu, Gong and Liu, Flow Straight and Fast (ICLR 2023), CIFAR-10 results table',
      paper_setting='FID of 50k CIFAR-10 samples; RK45 at rtol = atol = 1e-5 (1-RF: NFE 127)',
      columns=(Column('fd', 'FD', 'lower'), Column('is', 'IS', 'higher', '.2f'),
               Column('kid', 'KID', 'lower', '.4f'), Column('nfe', 'NFE', '', '.0f'),
               Column('straightness', 'straightness', 'lower')),
      rows=_rows(), metrics=('fd', 'is', 'kid'),
      plot=Plot('nfe', 'fd', logx=True, logy=True,
                floor={'laptop': (0.318, 'real: test vs training images')}),
      scales={
          'smoke': Scale('Smoke: 4-step digits runs, 64 reflow pairs (meaningless numbers), '
                         '8 samples.', runs.SMOKE, {'eval.num_samples': 8}, seeds=(0, 1), keys=(0, 1)),
          'laptop': Scale('Laptop: scikit-learn digits, experiments/rectified_flow/digits.py '
                          '(1500 steps each; reflow on 5000 pairs); 1000 samples in the pinned '
                          'digits classifier\'s features (real test vs training images: FD '
                          '0.318, IS 9.82).', runs.LAPTOP, {'eval.num_samples': 1000},
                          seeds=(0, 1, 2), keys=(0, 1, 2, 3, 4)),
          'paper': Scale('Paper: experiments/rectified_flow/cifar10.py and its reflow variants '
                         '(1M pairs each), Inception FID / IS of 50k samples.',
                         {'rectified_flow_digits': runs.RunSpec('experiments/rectified_flow/cifar10.py'),
                          'rectified_flow_digits_2rf': runs.RunSpec(
                              'experiments/rectified_flow/cifar10.py:reflow',
                              pairs_from='rectified_flow_digits', num_pairs=1_000_000),
                          'rectified_flow_digits_3rf': runs.RunSpec(
                              'experiments/rectified_flow/cifar10.py:reflow3',
                              pairs_from='rectified_flow_digits_2rf', num_pairs=1_000_000),
                          'rectified_flow_digits_2rf_distill': runs.RunSpec(
                              'experiments/rectified_flow/cifar10.py:distill',
                              pairs_from='rectified_flow_digits_2rf', num_pairs=1_000_000)},
                         {'eval.num_samples': 50000}, samples=50000, metrics={'fd': 'fid', 'is': 'inception_score', 'kid': ''}),
      },
      claims=(Claim('Reflow straightens the flow', CLAIM_STRAIGHT),
              Claim('One-step quality improves by a large factor (2 or more) with reflow',
                    CLAIM_ONE_STEP),
              Claim('Distillation improves one-step quality further', CLAIM_DISTILL),
              Claim('With an adaptive solver 1-RF is (slightly) best', CLAIM_ADAPTIVE)))
