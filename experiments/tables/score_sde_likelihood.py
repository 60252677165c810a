"""Score SDE, Table 2 (Song et al., ICLR 2021): bits/dim through the probability-flow ODE, VP vs
sub-VP, each trained with and without likelihood weighting.

    python -m launch.table experiments/tables/score_sde_likelihood.py --scale laptop

Laptop: the digits runs of `experiments/score_sde/digits.py` (``subvp``, ``lw``), bits/dim of the
297 test images (dopri5, one Rademacher probe, two dequantization draws), FD of 500 PF-ODE
samples. Claims: sub-VP and likelihood weighting lower bits/dim. Time: about 28 minutes.
Headline: neither claim holds on digits after 1500 steps (sub-VP is worse than VP).
Results: experiments/tables/results/score_sde_likelihood_laptop.md.
"""

from experiments.tables import references
from experiments.tables import runs
from jaxgen.tables.spec import Claim, Column, Compare, Row, Scale, Table

_BPD, _FID = references.SCORE_SDE_TABLE2_BPD.values, references.SCORE_SDE_TABLE2_FID.values
ROWS = (('VP', 'score_sde_vp', _BPD[('DDPM++ cont.', 'vp')], _FID[('DDPM++ cont.', 'vp')]),
        ('sub-VP', 'score_sde_subvp', _BPD[('DDPM++ cont.', 'subvp')],
         _FID[('DDPM++ cont.', 'subvp')]),
        ('VP + likelihood weighting', 'score_sde_vp_lw', None, None),
        ('sub-VP + likelihood weighting', 'score_sde_subvp_lw', None, None))
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
                         {'score_sde_vp': runs.RunSpec('experiments/score_sde/ddpmpp_cont_vp.py'),
                          'score_sde_subvp': runs.RunSpec(
                              'experiments/score_sde/ddpmpp_cont_subvp.py'),
                          'score_sde_vp_lw': runs.RunSpec(
                              'experiments/score_sde/ddpmpp_cont_vp.py',
                              {'loss.likelihood_weighting': True}),
                          'score_sde_subvp_lw': runs.RunSpec(
                              'experiments/score_sde/ddpmpp_cont_subvp.py',
                              {'loss.likelihood_weighting': True})},
                         {**EVAL, 'eval.dequant_draws': 5, 'eval.num_samples': 50000},
                         samples=50000, metrics={'fd': 'fid'}),
      },
      claims=(Claim('sub-VP gives lower bits/dim than VP', CLAIM_SUBVP),
              Claim('Likelihood weighting lowers bits/dim', CLAIM_LW)))
