"""Rectified Flow (Liu, Gong, Liu, ICLR 2023): 1-RF, 2-RF, 3-RF and one-step distillation; one
Euler step vs 100 Euler steps vs dopri5; straightness on the 100-step grid.

    python -m launch.table experiments/tables/rectified_flow_reflow.py --scale laptop

Time and results: experiments/tables/results/rectified_flow_reflow_laptop.md.
"""

from experiments.tables import references
from experiments.tables import runs
from jaxgen.tables.spec import Claim, Column, Compare, Plot, Row, Scale, Table

MODELS = (('1-RF', 'rectified_flow'), ('2-RF', 'rectified_flow_2rf'),
          ('3-RF', 'rectified_flow_3rf'))
# The paper's table (CIFAR-10 FID, 50k samples): RK45 and one Euler step.
PAPER = references.RECTIFIED_FLOW_CIFAR10.values
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
  rows.append(Row('2-RF distilled 1 Euler step', 'rectified_flow_2rf_distill',
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
      plot=Plot('nfe', 'fd', logx=True, logy=True),
      scales={
          'smoke': Scale('Smoke: 4-step digits runs, 64 reflow pairs (meaningless numbers), '
                         '8 samples.', runs.SMOKE, {'eval.num_samples': 8}, seeds=(0, 1), keys=(0, 1)),
          'laptop': Scale('Laptop: scikit-learn digits, experiments/rectified_flow/digits.py '
                          '(1500 steps each; reflow on 5000 pairs); 1000 samples in the pinned '
                          'digits classifier\'s features.', runs.LAPTOP, {'eval.num_samples': 1000},
                          seeds=(0, 1, 2), keys=(0, 1, 2, 3, 4)),
          'paper': Scale('Paper: experiments/rectified_flow/cifar10.py and its reflow variants '
                         '(1M pairs each), Inception FID / IS of 50k samples.',
                         {'rectified_flow': runs.RunSpec('experiments/rectified_flow/cifar10.py'),
                          'rectified_flow_2rf': runs.RunSpec(
                              'experiments/rectified_flow/cifar10.py:reflow',
                              pairs_from='rectified_flow', num_pairs=1_000_000),
                          'rectified_flow_3rf': runs.RunSpec(
                              'experiments/rectified_flow/cifar10.py:reflow3',
                              pairs_from='rectified_flow_2rf', num_pairs=1_000_000),
                          'rectified_flow_2rf_distill': runs.RunSpec(
                              'experiments/rectified_flow/cifar10.py:distill',
                              pairs_from='rectified_flow_2rf', num_pairs=1_000_000)},
                         {'eval.num_samples': 50000}, samples=50000, metrics={'fd': 'fid', 'is': 'inception_score', 'kid': ''}),
      },
      claims=(Claim('Reflow straightens the flow', CLAIM_STRAIGHT),
              Claim('One-step quality improves by a large factor (2 or more) with reflow',
                    CLAIM_ONE_STEP),
              Claim('Distillation improves one-step quality further', CLAIM_DISTILL),
              Claim('With an adaptive solver 1-RF is (slightly) best', CLAIM_ADAPTIVE)))
