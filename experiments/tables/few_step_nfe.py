"""Few-step generators: sample quality against the number of network evaluations (NFE 1, 2, 4, 8)
for rectified flow (1-RF, 2-RF, distilled 2-RF, minibatch-OT coupling), consistency training and
distillation, MeanFlow, shortcut models, and DDIM / DPM-Solver++(2M) on one score-SDE run, each
row with its run's training time.

    python -m launch.table experiments/tables/few_step_nfe.py --scale laptop

Laptop, an estimate until built: about 2.5 hours on this 2-core CPU, training about 1.5 (27
runs: the Fashion-MNIST experiments' steps at batch 64 cost 0.8 s score SDE, 1.2 s rectified flow,
1.7 s CT, 2.6 s shortcut, 5 s MeanFlow; at batch 32 about two thirds), evaluation about 1 (112
processes). Results: experiments/tables/results/few_step_nfe_laptop.md (not built yet).
"""

from experiments.tables import references
from jaxgen.tables.spec import Claim, Column, Compare, Plot, Row, RunSpec, Scale, Table

NFES = (1, 2, 4, 8)
EULER = {'sampling.solver': 'euler'}
JUMPS = {}          # the few-step families: sampling.steps network evaluations
# label, run key, fixed sampling overrides, the NFEs of its rows
METHODS = (
    ('1-RF', 'few_step_rf', EULER, NFES),
    ('2-RF', 'few_step_rf_2rf', EULER, NFES),
    ('2-RF distilled', 'few_step_rf_2rf_distill', EULER, (1, 2)),
    ('1-RF OT', 'few_step_rf_ot', EULER, NFES),
    ('CT', 'few_step_ct', JUMPS, NFES),
    ('CD', 'few_step_cd', JUMPS, NFES),
    ('MeanFlow', 'few_step_mean_flow', JUMPS, NFES),
    ('shortcut', 'few_step_shortcut', JUMPS, NFES),
    ('DDIM', 'few_step_score_sde', {'sampling.method': 'ddim', 'sampling.ddim_eta': 0.0}, NFES),
    # at one step DPM-Solver++(2M) is DDIM's first-order step: no row
    ('DPM-Solver++(2M)', 'few_step_score_sde', {'sampling.method': 'dpm_solver++2m'}, (2, 4, 8)),
)
SMOKE_ROWS = {('1-RF', 1), ('2-RF', 1), ('2-RF distilled', 1), ('1-RF OT', 1), ('CT', 1),
              ('CD', 1), ('MeanFlow', 1), ('shortcut', 2), ('DDIM', 1), ('DPM-Solver++(2M)', 2)}

# The papers' CIFAR-10 FIDs (50k samples; not comparable with our Fashion-MNIST FD): (method,
# NFE) -> FID. 'CT' holds iCT-deep's (the iCT abstract's figures).
_RF, _ICT = references.RECTIFIED_FLOW_CIFAR10.values, references.ICT_CIFAR10.values
PAPER = {('1-RF', 1): _RF[('1-RF', 'euler1')], ('2-RF', 1): _RF[('2-RF', 'euler1')],
         ('2-RF distilled', 1): _RF[('2-RF distilled', 'euler1')],
         ('CT', 1): _ICT[('iCT-deep', 1)], ('CT', 2): _ICT[('iCT-deep', 2)],
         ('CD', 1): references.CD_CIFAR10.values[1],
         ('MeanFlow', 1): references.MEANFLOW_CIFAR10.values[1]}

STEPS = 120         # laptop: every run trained from scratch (batch 32)
TUNE_STEPS = 60     # laptop: 2-RF and its distillation, each from its source's weights
PAIRS = 500         # laptop: the reflow pairs of 1-RF and of 2-RF (Euler, 16 steps)


def _runs(scale: str) -> dict:
  """Run key -> RunSpec: the Fashion-MNIST experiments (``smoke``: their smoke variants) at
  `scale`; 2-RF trains on 1-RF's pairs, its distillation on 2-RF's, CD distils the score-SDE
  run."""
  smoke = scale == 'smoke'

  def v(path, variant=''):
    variants = ','.join(x for x in (variant, 'smoke' if smoke else '') if x)
    return f'experiments/{path}' + (':' + variants if variants else '')

  def short(steps=STEPS, metrics=('loss',)):
    """The laptop length; the run's own end-of-run evaluation kept cheap (`metrics`: its
    eval.metrics; None: the variant's)."""
    return {} if smoke else {
        'train.steps': steps, 'train.batch_size': 32, 'train.log_every': 25,
        'train.checkpoint_every': steps, 'optim.warmup_steps': steps // 10,
        'optim.ema_warmup': True, 'eval.num_batches': 1, 'sampling.num_samples': 16,
        **({'eval.metrics': metrics} if metrics else {})}
  n_pairs = 64 if smoke else PAIRS
  pairs = {} if smoke else {'sampling.steps': 16}
  rf = 'rectified_flow/fashion_mnist.py'
  return {
      'few_step_score_sde': RunSpec(v('score_sde/fashion_mnist.py'),
                                    {**short(), **({} if smoke else {'sampling.method': 'ddim',
                                                                     'sampling.steps': 8})}),
      'few_step_rf': RunSpec(v(rf), short()),
      'few_step_rf_2rf': RunSpec(v(rf, 'reflow'), short(TUNE_STEPS), pairs_from='few_step_rf',
                                 num_pairs=n_pairs, pairs_overrides=pairs),
      'few_step_rf_2rf_distill': RunSpec(v(rf, 'distill'), short(TUNE_STEPS, None),
                                         pairs_from='few_step_rf_2rf', num_pairs=n_pairs,
                                         pairs_overrides=pairs),
      'few_step_rf_ot': RunSpec(v(rf, 'ot'), short()),
      'few_step_ct': RunSpec(v('consistency/fashion_mnist.py'), short()),
      'few_step_cd': RunSpec(v('consistency/fashion_mnist.py', 'cd'), short(),
                             teacher_from='few_step_score_sde'),
      'few_step_mean_flow': RunSpec(v('mean_flow/fashion_mnist.py'), short()),
      'few_step_shortcut': RunSpec(v('shortcut/fashion_mnist.py'), short()),
  }


def _paper_runs() -> dict:
  rf = 'experiments/rectified_flow/cifar10.py'
  return {
      'few_step_score_sde': RunSpec('experiments/score_sde/ddpmpp_cont_vp.py'),
      'few_step_rf': RunSpec(rf),
      'few_step_rf_2rf': RunSpec(rf + ':reflow', pairs_from='few_step_rf', num_pairs=1_000_000),
      'few_step_rf_2rf_distill': RunSpec(rf + ':distill', pairs_from='few_step_rf_2rf',
                                         num_pairs=1_000_000),
      'few_step_rf_ot': RunSpec(rf + ':ot'),
      'few_step_ct': RunSpec('experiments/consistency/cifar10.py'),
      'few_step_cd': RunSpec('experiments/consistency/cifar10.py:cd',
                             teacher_from='few_step_score_sde'),
      'few_step_mean_flow': RunSpec('experiments/mean_flow/cifar10.py'),
      'few_step_shortcut': RunSpec('experiments/shortcut/cifar10.py'),
  }


def _rows():
  rows = []
  for method, run, fixed, nfes in METHODS:
    for k in nfes:
      paper = PAPER.get((method, k))
      rows.append(Row(f'{method} NFE {k}', run, {**fixed, 'sampling.steps': k}, series=method,
                      paper={'fd': paper} if paper is not None else {},
                      scales=() if (method, k) in SMOKE_ROWS else ('laptop', 'paper')))
  # OT-CFM's figure is for an adaptive solver: a row at paper scale only (dopri5's NFE is ~100+).
  rows.append(Row('1-RF OT dopri5', 'few_step_rf_ot',
                  {'sampling.solver': 'dopri5', 'sampling.rtol': 1e-5, 'sampling.atol': 1e-5},
                  paper={'fd': references.OT_CFM_CIFAR10.values['dopri5']}, scales=('paper',)))
  return tuple(rows)


# The papers' orderings: at one step each few-step family beats 1-RF and 2-RF, reflow beats 1-RF
# and distillation 2-RF; at two and four steps OT coupling beats the independent coupling
# (straighter flow); at two steps the few-step families beat the best fast sampler.
FEW_STEP = ('CT', 'CD', 'MeanFlow', 'shortcut')
CLAIMS_ONE_STEP = tuple(
    Claim(f'At one step {m} beats 1-RF and 2-RF',
          tuple(Compare(f'{m} NFE 1', f'{rf} NFE 1', 'fd') for rf in ('1-RF', '2-RF')))
    for m in FEW_STEP)
CLAIM_DISTILL = (Compare('2-RF distilled NFE 1', '2-RF NFE 1', 'fd'),)
CLAIM_REFLOW = (Compare('2-RF NFE 1', '1-RF NFE 1', 'fd'),)
CLAIM_OT = tuple(Compare(f'1-RF OT NFE {k}', f'1-RF NFE {k}', 'fd') for k in (2, 4))
CLAIM_BASELINES = tuple(Compare(f'{m} NFE 2', 'DPM-Solver++(2M) NFE 2', 'fd') for m in FEW_STEP)

NOTES = """\
The "paper" column holds the papers' CIFAR-10 FIDs of 50k samples (Inception features), beside
our Fashion-MNIST FD (the pinned classifier's features): orderings compare, values do not. CT's
are iCT-deep's (2.51 / 2.24; iCT: 2.83 / 2.46); 1-RF / 2-RF / distilled: Liu et al.'s one Euler
step. Not in a row: sCT 2.06 at two steps (Lu & Song 2024; no continuous-time CT here), OT-CFM 3.5
with dopri5 (torchcfm's CIFAR-10 README; the paper scale's "1-RF OT dopri5" row), shortcut models
(no CIFAR-10 result). MeanFlow at 4 and 8 NFE: 4 or 8 equal jumps of the learned average velocity
(its native NFEs are 1 and 2). A consistency model at k NFE: k levels of the rho-grid, re-noised
between steps. A shortcut model at k: k jumps of size 1/k. The training time is each run's own:
2-RF adds 1-RF's and the reflow pairs', the distilled row 2-RF's too, CD the score-SDE run's.
At laptop scale every run has the same short budget of steps, far from convergence: the table
orders the methods at that budget, and the time column says what a step of each costs."""


def get_table():
  smoke = Scale('Smoke: the Fashion-MNIST experiments\' smoke variants (4 steps, stand-in data '
                'where the set is missing; meaningless numbers), 64 reflow pairs, 8 samples.',
                _runs('smoke'), {'eval.num_samples': 8}, seeds=(0, 1), keys=(0, 1))
  laptop = Scale(f'Laptop: Fashion-MNIST, the experiments\' small U-Net (nf 16), every run '
                 f'{STEPS} steps at batch 32 (2-RF and its distillation {TUNE_STEPS} more on '
                 f'{PAIRS} pairs of 16 Euler steps); FD of 500 samples in the pinned Fashion-MNIST '
                 'classifier\'s features against the test set.',
                 _runs('laptop'), {'eval.num_samples': 500}, seeds=(0, 1, 2), keys=(0, 1))
  paper = Scale('Paper: the CIFAR-10 configs (experiments/*/cifar10.py; CD distils the DDPM++ '
                'cont. VP run), Inception FID of 50k samples.', _paper_runs(),
                {'eval.num_samples': 50000}, samples=50000, metrics={'fd': 'fid'})
  return Table(
      name='few_step_nfe',
      title='Few-step generators: FD against NFE, with training time',
      source='Liu et al. 2023 (rectified flow), Song et al. 2023 (CD), Song & Dhariwal 2023 '
             '(iCT), Geng et al. 2025 (MeanFlow), Tong et al. 2023 (OT-CFM), Frans et al. 2024 '
             '(shortcut); experiments/tables/references.py',
      paper_setting='FID of 50k CIFAR-10 samples, unconditional',
      columns=(Column('fd', 'FD', 'lower'), Column('nfe', 'NFE', '', '.0f'),
               Column('training_minutes', 'training min', '', '.1f')),
      rows=_rows(), metrics=('fd',), plot=Plot('nfe', 'fd', logx=True, logy=True),
      scales={'smoke': smoke, 'laptop': laptop, 'paper': paper},
      claims=(*CLAIMS_ONE_STEP,
              Claim('Reflow improves one-step quality', CLAIM_REFLOW),
              Claim('Distillation improves one-step quality further', CLAIM_DISTILL),
              Claim('OT coupling needs fewer steps than the independent coupling', CLAIM_OT),
              Claim('At two steps the few-step families beat DPM-Solver++(2M)', CLAIM_BASELINES)),
      notes=NOTES)
