"""Score SDE, Table 2 (Song et al., ICLR 2021): bits/dim through the probability-flow ODE, VP vs
sub-VP, each trained with and without likelihood weighting.

    python -m launch.table experiments/tables/score_sde_likelihood.py --scale laptop

bits/dim of the test split (`jaxgen.metrics.bpd`: the uniform-dequantization bound, the data
(k + u) / K re-dequantized by the evaluator as the paper's code does, ``eval.dequantize``;
offset log2(K / 2) for data on [-1, 1]) with the PF-ODE likelihood (dopri5, rtol = atol = 1e-5,
one Rademacher probe, as the reference), over two dequantization draws; with it the ODE's NFE
and the wall time. Also FD of PF-ODE samples (dopri5) as the paper's FID column. Laptop: the
digits runs of `experiments/score_sde/digits.py` (``subvp``, ``lw`` variants), the 297 test
images, FD of 500 PF-ODE samples.

Claim: sub-VP gives lower bits/dim than VP (3.02 vs 3.16 for DDPM++ cont. in the paper); and
likelihood weighting lowers bits/dim (the paper's Table 2 lists models without it; its
likelihood-weighted numbers are in Song et al. 2021b, not quoted here).

Measured (laptop, 2026-12-02; experiments/tables/results/score_sde_likelihood_laptop.md): 28
minutes on the shared 2-core CPU (10.5 training, 17 evaluating; each row ~4 minutes, the ODE
likelihood of 2 x 297 images at NFE ~490 and 500 PF-ODE samples). bits/dim: VP 2.354, sub-VP
2.468, VP + LW 2.589, sub-VP + LW 2.739 (dequantization draw std < 0.006; log2(17) = 4.09 is the
uniform model). Disagrees on both claims: on digits after 1500 steps sub-VP is 0.11 bits/dim
WORSE than VP, and likelihood weighting makes both worse (and their PF-ODE samples: FD 1.69 /
1.77 against 0.55 / 0.69). Likelihood weighting without the importance sampling of t that Song et
al. 2021b pair it with has a high-variance loss; 1500 steps may not be enough for it, nor for the
sub-VP gap of 0.14 bits/dim the paper measured after 1.3M steps on CIFAR-10.
"""

from experiments.tables import runs
from jaxgen.tables.spec import Claim, Column, Compare, Row, Scale, Table

ROWS = (('VP', 'score_sde_digits_vp', 3.16, 3.93), ('sub-VP', 'score_sde_digits_subvp', 3.02, 3.16),
        ('VP + likelihood weighting', 'score_sde_digits_vp_lw', None, None),
        ('sub-VP + likelihood weighting', 'score_sde_digits_subvp_lw', None, None))
EVAL = {'eval.dequantize': True, 'eval.dequant_draws': 2, 'likelihood.solver': 'dopri5',
        'likelihood.rtol': 1e-5, 'likelihood.atol': 1e-5, 'likelihood.probes': 1,
        'sampling.method': 'ode', 'sampling.solver': 'dopri5', 'sampling.rtol': 1e-5,
        'sampling.atol': 1e-5}
SMOKE_EVAL = {'eval.dequantize': True, 'eval.dequant_draws': 2, 'likelihood.solver': 'euler',
              'likelihood.steps': 4, 'likelihood.probes': 1, 'sampling.method': 'ode',
              'sampling.solver': 'euler', 'sampling.steps': 2, 'eval.num_samples': 8}


CLAIM_SUBVP = (Compare('sub-VP', 'VP', 'bpd'),)
CLAIM_LW = tuple(Compare(f'{a} + likelihood weighting', a, 'bpd') for a in ('VP', 'sub-VP'))


def get_table():
  rows = tuple(Row(label, run, paper={k: v for k, v in (('bpd', bpd), ('fd', fid)) if v is not None},
                   scales=() if label == 'VP' else ('laptop', 'paper'))
               for label, run, bpd, fid in ROWS)
  return Table(
      name='score_sde_likelihood',
      title='Score SDE Table 2: bits/dim through the probability-flow ODE, VP vs sub-VP',
      source='Song et al., Score-Based Generative Modeling through SDEs (ICLR 2021), Table 2 '
             '(DDPM++ cont. rows)',
      paper_setting='bits/dim on the CIFAR-10 test set (5 dequantization draws) and FID of 50k '
                    'PF-ODE samples',
      columns=(Column('bpd', 'bits/dim', 'lower'), Column('likelihood', 'likelihood'),
               Column('bpd_draw_std', 'draw std', '', '.4f'),
               Column('likelihood_nfe', 'likelihood NFE', '', '.0f'),
               Column('likelihood_seconds', 'likelihood s', '', '.0f'),
               Column('fd', 'FD (PF-ODE)', 'lower'), Column('nfe', 'sampling NFE', '', '.0f')),
      rows=rows, metrics=('bpd', 'fd'),
      scales={
          'smoke': Scale('Smoke: 4-step digits runs, Euler likelihoods (meaningless numbers).',
                         runs.SMOKE, SMOKE_EVAL, seeds=(0, 1), keys=(0, 1)),
          'laptop': Scale('Laptop: scikit-learn digits (17 levels; uniform bits/dim: log2(17) = '
                          '4.09), the runs of experiments/score_sde/digits.py (1500 steps); bpd '
                          'of the 297 test images, FD of 500 PF-ODE samples in the pinned '
                          'digits classifier\'s features.',
                          runs.LAPTOP, {**EVAL, 'eval.num_samples': 500}, seeds=(0, 1, 2), keys=(0, 1, 2, 3, 4)),
          'paper': Scale('Paper: the DDPM++ cont. VP / sub-VP CIFAR-10 configs, bpd of the test '
                         'set, Inception FID of 50k.',
                         {'score_sde_digits_vp': runs.RunSpec('experiments/score_sde/ddpmpp_cont_vp.py'),
                          'score_sde_digits_subvp': runs.RunSpec(
                              'experiments/score_sde/ddpmpp_cont_subvp.py'),
                          'score_sde_digits_vp_lw': runs.RunSpec(
                              'experiments/score_sde/ddpmpp_cont_vp.py',
                              {'loss.likelihood_weighting': True}),
                          'score_sde_digits_subvp_lw': runs.RunSpec(
                              'experiments/score_sde/ddpmpp_cont_subvp.py',
                              {'loss.likelihood_weighting': True})},
                         {**EVAL, 'eval.dequant_draws': 5, 'eval.num_samples': 50000},
                         samples=50000, metrics={'fd': 'fid'}),
      },
      claims=(Claim('sub-VP gives lower bits/dim than VP', CLAIM_SUBVP),
              Claim('Likelihood weighting lowers bits/dim', CLAIM_LW)))
