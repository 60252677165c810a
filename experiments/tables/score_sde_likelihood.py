"""Score SDE Table 2 (Song et al., ICLR 2021) and likelihood weighting (Song, Durkan, Murray &
Ermon, 2021): bits/dim through the probability-flow ODE and the variational bound, VP vs sub-VP,
trained on the grid and on dequantized images, with likelihood weighting alone and with
importance-sampled t.

    python -m launch.table experiments/tables/score_sde_likelihood.py --scale laptop

Time: 92 minutes for the first 8 rows x 3 seeds (training 49, evaluation 43), 2026-12-07; the two
dequantized LW rows 53 minutes more, 2026-12-08 (the shared 2-core CPU, other jobs running).
Results: experiments/tables/results/score_sde_likelihood_laptop.md.
"""

from experiments.tables import references
from experiments.tables import runs
from jaxgen.tables.spec import Claim, Column, Compare, Row, Scale, Table

_BPD, _FID = references.SCORE_SDE_TABLE2_BPD.values, references.SCORE_SDE_TABLE2_FID.values
GRID = {}                                # trained on the grid k / 16: the evaluator dequantizes
DEQ = {'eval.dequantize': False}         # trained on (k + u) / 17: the data dequantizes already
# label, run key, evaluation overrides, the paper's bits/dim and FID (DDPM++ cont.)
ROWS = (('VP', 'score_sde_vp', GRID, _BPD[('DDPM++ cont.', 'vp')], _FID[('DDPM++ cont.', 'vp')]),
        ('sub-VP', 'score_sde_subvp', GRID, _BPD[('DDPM++ cont.', 'subvp')],
         _FID[('DDPM++ cont.', 'subvp')]),
        ('VP, dequantized training', 'score_sde_vp_deq', DEQ, None, None),
        ('sub-VP, dequantized training', 'score_sde_subvp_deq', DEQ, None, None),
        ('VP + LW', 'score_sde_vp_lw', GRID, None, None),
        ('VP + LW + IS', 'score_sde_vp_lwis', GRID, None, None),
        ('sub-VP + LW', 'score_sde_subvp_lw', GRID, None, None),
        ('sub-VP + LW + IS', 'score_sde_subvp_lwis', GRID, None, None),
        ('VP + LW, dequantized training', 'score_sde_vp_deq_lw', DEQ, None, None),
        ('VP + LW + IS, dequantized training', 'score_sde_vp_deq_lwis', DEQ, None, None))
EVAL = {'eval.dequantize': True, 'eval.dequant_draws': 1, 'likelihood.solver': 'dopri5',
        'likelihood.rtol': 1e-5, 'likelihood.atol': 1e-5, 'likelihood.probes': 1,
        'sampling.method': 'ode', 'sampling.solver': 'dopri5', 'sampling.rtol': 1e-5,
        'sampling.atol': 1e-5}
SMOKE_EVAL = {'eval.dequantize': True, 'eval.dequant_draws': 2, 'likelihood.solver': 'euler',
              'likelihood.steps': 4, 'likelihood.probes': 1, 'sampling.method': 'ode',
              'sampling.solver': 'euler', 'sampling.steps': 2, 'eval.num_samples': 8}

# sub-VP below VP, trained on the grid and on dequantized images; likelihood weighting with
# importance sampling (the paper's pairing) below plain DSM; importance sampling below LW alone.
CLAIM_SUBVP = (Compare('sub-VP', 'VP', 'bpd'),
               Compare('sub-VP, dequantized training', 'VP, dequantized training', 'bpd'))
CLAIM_LW = tuple(Compare(f'{a} + LW + IS', a, 'bpd') for a in ('VP', 'sub-VP'))
CLAIM_IS = tuple(Compare(f'{a} + LW + IS', f'{a} + LW', 'bpd') for a in ('VP', 'sub-VP'))
# The experiment for the two claims above: on the grid k / 16 the data has no density, and
# weighting towards t -> eps fits the grid's spikes, which a dequantized test point falls between;
# trained on dequantized images (the likelihood paper's setting) the weighting should pay.
D = 'dequantized training'
CLAIM_LW_DEQ = (Compare(f'VP + LW + IS, {D}', f'VP, {D}', 'bpd'),
                Compare(f'VP + LW + IS, {D}', f'VP + LW, {D}', 'bpd'))
# What likelihood weighting minimises is the variational bound (the ELBO column), not the PF-ODE
# likelihood itself: the same comparisons on the bound.
CLAIM_LW_DEQ_ELBO = tuple(Compare(c.a, c.b, 'elbo_bpd') for c in CLAIM_LW_DEQ)


def get_table():
  rows = tuple(Row(label, run, over,
                   paper={k: v for k, v in (('bpd', bpd), ('fd', fid)) if v is not None},
                   scales=() if label in ('VP', 'VP, dequantized training', 'VP + LW + IS')
                   else ('laptop', 'paper'))
               for label, run, over, bpd, fid in ROWS)
  return Table(
      name='score_sde_likelihood',
      title='Score SDE Table 2: bits/dim through the probability-flow ODE, VP vs sub-VP',
      source='Song et al., Score-Based Generative Modeling through SDEs (ICLR 2021), Table 2 '
             '(DDPM++ cont. rows)',
      paper_setting='bits/dim on the CIFAR-10 test set (5 dequantization draws) and FID of 50k '
                    'PF-ODE samples',
      columns=(Column('bpd', 'bits/dim (PF-ODE)', 'lower'),
               Column('elbo_bpd', 'bits/dim bound (ELBO)', 'lower'),
               Column('likelihood', 'likelihood'),
               Column('likelihood_nfe', 'likelihood NFE', '', '.0f'),
               Column('fd', 'FD (PF-ODE)', 'lower'), Column('nfe', 'sampling NFE', '', '.0f')),
      rows=rows, metrics=('bpd', 'elbo_bpd', 'fd'),
      scales={
          'smoke': Scale('Smoke: 4-step digits runs, Euler likelihoods (meaningless numbers).',
                         runs.SMOKE, SMOKE_EVAL, seeds=(0, 1), keys=(0, 1)),
          'laptop': Scale('Laptop: scikit-learn digits (17 levels; uniform bits/dim: log2(17) = '
                          '4.09), the runs of experiments/score_sde/digits.py (1500 steps; '
                          'variants subvp, deq, lw, lwis and their combinations), 3 training seeds; bits/dim of the 297 '
                          'test images, one dequantization draw each (PF-ODE: dopri5, one '
                          'Rademacher probe; the bound: the likelihood section\'s t draws).',
                          runs.LAPTOP, EVAL, metrics={'fd': ''}, seeds=(0, 1, 2)),
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
                              {'loss.likelihood_weighting': True}),
                          'score_sde_vp_lwis': runs.RunSpec(
                              'experiments/score_sde/ddpmpp_cont_vp.py',
                              {'loss.likelihood_weighting': True,
                               'loss.importance_sampling': True}),
                          'score_sde_subvp_lwis': runs.RunSpec(
                              'experiments/score_sde/ddpmpp_cont_subvp.py',
                              {'loss.likelihood_weighting': True,
                               'loss.importance_sampling': True}),
                          'score_sde_vp_deq': runs.RunSpec(
                              'experiments/score_sde/ddpmpp_cont_vp.py',
                              {'data.dequantize': True}),
                          'score_sde_subvp_deq': runs.RunSpec(
                              'experiments/score_sde/ddpmpp_cont_subvp.py',
                              {'data.dequantize': True}),
                          'score_sde_vp_deq_lw': runs.RunSpec(
                              'experiments/score_sde/ddpmpp_cont_vp.py',
                              {'data.dequantize': True, 'loss.likelihood_weighting': True}),
                          'score_sde_vp_deq_lwis': runs.RunSpec(
                              'experiments/score_sde/ddpmpp_cont_vp.py',
                              {'data.dequantize': True, 'loss.likelihood_weighting': True,
                               'loss.importance_sampling': True})},
                         {**EVAL, 'eval.dequant_draws': 5, 'eval.num_samples': 50000},
                         samples=50000, metrics={'fd': 'fid'}),
      },
      claims=(Claim('sub-VP gives lower bits/dim than VP (trained on the grid and on '
                    'dequantized images)', CLAIM_SUBVP),
              Claim('Likelihood weighting with importance sampling lowers bits/dim', CLAIM_LW),
              Claim('Importance sampling is what makes likelihood weighting pay (LW + IS below '
                    'LW alone)', CLAIM_IS),
              Claim('Trained on dequantized images, likelihood weighting with importance '
                    'sampling lowers bits/dim, below LW alone', CLAIM_LW_DEQ),
              Claim('Trained on dequantized images, likelihood weighting with importance '
                    'sampling lowers the variational bound it minimises, below LW alone',
                    CLAIM_LW_DEQ_ELBO)))
