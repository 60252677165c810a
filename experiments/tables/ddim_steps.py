"""DDIM (Song, Meng, Ermon, ICLR 2021), Table 1: sample quality against the number of steps, for
eta = 0 (deterministic DDIM) and eta = 1 (DDPM-like ancestral noise).

    python -m launch.table experiments/tables/ddim_steps.py --scale laptop

One trained VP model (the paper: a DDPM on CIFAR-10; laptop: the continuous VP run of
`experiments/score_sde/digits.py` on digits) sampled with DDIM on the uniform time grid with
10, 20, 50 and 100 steps (NFE = steps), eta 0 and 1. Laptop metrics: FD, IS and KID of 1000
samples in the pinned digits classifier's features (`jaxgen/assets`), against the 297 test images.

Claim: eta = 0 degrades least as the number of steps falls (at 10 and 20 steps its quality is
much better than eta = 1's; at 100 steps they are close).

Measured (laptop, 2026-12-02; experiments/tables/results/ddim_steps_laptop.md): 9 minutes on the
2-core CPU (1.7 training, 7.5 evaluating the 8 rows, shared with other jobs). FD eta = 0: 0.494 /
0.479 / 0.488 / 0.494 at 10 / 20 / 50 / 100 steps (flat), eta = 1: 0.886 / 0.647 / 0.526 / 0.333.
Agrees: eta = 0 degrades least (at 10 steps eta = 1 is 0.39 worse). Differs: at 100 steps eta = 1
is better than eta = 0 here (the paper: 4.16 vs 5.78 at 100 steps, eta = 1 better only at 1000),
and eta = 0 does not improve past 10 steps: the deterministic sampler's error is not the
discretization's on this small model (the real-data floor, 297 training vs test images, is FD
0.318).
"""

from experiments.tables import runs
from jaxgen.tables.spec import Claim, Column, Compare, Plot, Row, Scale, Table

STEPS = (10, 20, 50, 100)
# The paper's Table 1, CIFAR-10 FID, eta = 0 (the 10-step figure is unverified in
# REFERENCES.md); its eta = 1 row is not quoted here.
PAPER_ETA0 = {10: 13.36, 20: 6.84, 50: 4.67, 100: 4.16}


def _rows():
  rows = []
  for eta in (0.0, 1.0):
    for n in STEPS:
      rows.append(Row(f'eta={eta:g} steps={n}', 'score_sde_digits_vp',
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
      rows=_rows(), metrics=('fd', 'is', 'kid'), plot=Plot('nfe', 'fd', logx=True, floor={'laptop': (0.318, 'real: test vs training images')}),
      scales={
          'smoke': Scale('Smoke: the 4-step digits VP run (meaningless numbers), 1-2 DDIM steps, '
                         '8 samples.', runs.SMOKE, {'eval.num_samples': 8}, seeds=(0, 1), keys=(0, 1)),
          'laptop': Scale('Laptop: scikit-learn digits, the VP run of '
                          'experiments/score_sde/digits.py (1500 steps); FD / IS / KID of 1000 '
                          'samples in the pinned digits classifier\'s features (real test vs '
                          'training images: FD 0.318, IS 9.82).',
                          runs.LAPTOP, {'eval.num_samples': 1000}, seeds=(0, 1, 2), keys=(0, 1, 2, 3, 4)),
          'paper': Scale('Paper: the DDPM++ cont. VP CIFAR-10 config, Inception FID of 50k.',
                         {'score_sde_digits_vp': runs.RunSpec(
                             'experiments/score_sde/ddpmpp_cont_vp.py')},
                         {'eval.num_samples': 50000}, samples=50000, metrics={'fd': 'fid', 'is': 'inception_score', 'kid': ''}),
      },
      claims=(Claim('eta = 0 degrades least as the steps fall', CLAIM),))
