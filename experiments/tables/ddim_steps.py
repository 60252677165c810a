"""DDIM (Song, Meng, Ermon, ICLR 2021), Table 1: sample quality against the number of steps, for
eta = 0 (deterministic) and eta = 1 (DDPM-like noise), on one trained VP model.

    python -m launch.table experiments/tables/ddim_steps.py --scale laptop

Laptop: 3 training seeds x 5 sampling keys, 41 minutes on this 2-core CPU (4.5 training, 36.6
evaluation). Results: experiments/tables/results/ddim_steps_laptop.md.
"""

from experiments.tables import references
from experiments.tables import runs
from jaxgen.tables.spec import Claim, Column, Compare, Plot, Row, Scale, Table

STEPS = (10, 20, 50, 100)
# The paper's Table 1, CIFAR-10 FID, eta = 0 (the 10-step figure is unverified in
# REFERENCES.md); its eta = 1 row is not quoted here.
PAPER_ETA0 = references.DDIM_ETA0.values


def _rows():
  rows = []
  for eta in (0.0, 1.0):
    for n in STEPS:
      rows.append(Row(f'eta={eta:g} steps={n}', 'score_sde_vp',
                      {'sampling.method': 'ddim', 'sampling.ddim_eta': eta,
                       'sampling.steps': n, 'sampling.grid': 'uniform'},
                      paper={'fd': PAPER_ETA0[n]} if eta == 0 else {},
                      series=f'eta = {eta:g}',
                      scales=() if n in (10, 20) else ('laptop', 'paper'),
                      scale_overrides={'smoke': {'sampling.steps': n // 10}}))
  return tuple(rows)


# eta = 0 degrades least: at few steps its FD is below eta = 1's (paired by seed and key).
CLAIM = tuple(Compare(f'eta=0 steps={n}', f'eta=1 steps={n}', 'fd') for n in (10, 20))


def get_table():
  return Table(
      name='ddim_steps',
      title='DDIM: quality against steps, eta = 0 vs eta = 1',
      source='Song, Meng and Ermon, Denoising Diffusion Implicit Models (ICLR 2021), Table 1',
      paper_setting='FID of 50k CIFAR-10 samples of a DDPM, eta = 0 only',
      columns=(Column('fd', 'FD', 'lower'), Column('is', 'IS', 'higher', '.2f'),
               Column('kid', 'KID', 'lower', '.4f'), Column('nfe', 'NFE', '', '.0f')),
      rows=_rows(), metrics=('fd', 'is', 'kid'), plot=Plot('nfe', 'fd', logx=True),
      scales={
          'smoke': Scale('Smoke: the 4-step digits VP run (meaningless numbers), 1-2 DDIM steps, '
                         '8 samples.', runs.SMOKE, {'eval.num_samples': 8}, seeds=(0, 1), keys=(0, 1)),
          'laptop': Scale('Laptop: scikit-learn digits, the VP run of '
                          'experiments/score_sde/digits.py (1500 steps); FD / IS / KID of 1000 '
                          'samples in the pinned digits classifier\'s features.',
                          runs.LAPTOP, {'eval.num_samples': 1000}, seeds=(0, 1, 2), keys=(0, 1, 2, 3, 4)),
          'paper': Scale('Paper: the DDPM++ cont. VP CIFAR-10 config, Inception FID of 50k.',
                         {'score_sde_vp': runs.RunSpec(
                             'experiments/score_sde/ddpmpp_cont_vp.py')},
                         {'eval.num_samples': 50000}, samples=50000, metrics={'fd': 'fid', 'is': 'inception_score', 'kid': ''}),
      },
      claims=(Claim('eta = 0 degrades least as the steps fall', CLAIM),))
