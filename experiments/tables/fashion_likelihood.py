"""One likelihood table across every family on Fashion-MNIST (no paper has this table): NICE,
RealNVP, Glow (additive and affine coupling) and a CNF, each flow with uniform and with variational
dequantization, beside the PixelCNNs, score SDEs and rectified flow.

    python -m launch.table experiments/tables/fashion_likelihood.py --scale laptop

Every row names its bound: "uniform dequantization" (``bpd``, E_u log p(x(k + u)), u ~ U[0, 1))
or "variational dequantization" (``bpd_vdeq``, Flow++'s E_q[log p(x(k + u)) - log q(u | k)],
shown in the bits/dim column: `Row.reads`); the evaluator lines of the report name each row's.
The coupling flows' variational rows are their own runs with q trained jointly
(``model.dequantizer.kind='variational'``); the CNF's is the uniform CNF run with q trained after
it, the model frozen (``launch.train_deq``, the plan's ``deq`` step): one CNF training per seed,
and its two rows differ only in the bound.

The laptop CNF (experiments/cnf/fashion_mnist.py): a 2-level U-Net of 8 channels without
attention, Euler with 2 steps through the training solve and RNODE's regularisers; the digits
CNF's RK4 x 4 steps of a larger U-Net did not finish compiling in 19 minutes on this CPU.

Time and results: experiments/tables/results/fashion_likelihood_laptop.md. The flows' rows' laptop
cost is an estimate until built (2-core CPU, 3 seeds): 18 coupling-flow runs of 600 steps with
32-channel coupling nets (half the experiment's width), ~3 min each; per seed one CNF of 600
steps, q's 200 steps and two ODE evaluations of 500 test images, ~20 min: ~2 hours in all.
"""

from experiments.tables import references, runs
from jaxgen.tables.spec import Claim, Column, Compare, Row, Scale, Table

U, V = 'uniform dequantization', 'variational dequantization'
VDEQ = {'metrics': ('bpd_vdeq',), 'reads': {'bpd': 'bpd_vdeq', 'bpd_std': 'bpd_vdeq_std'}}
_REFS = references.FLOWS_CIFAR10   # paper -> its Reference (CIFAR-10 bits/dim)
_PAPER = {k: r.values[k] for k, r in _REFS.items()}
# (label, run key, evaluation overrides, Row keywords).
ROWS = (('NICE', 'nice_fashion', {}, {}),
        ('PixelCNN', 'pixelcnn_fashion', {}, {}),
        ('Gated PixelCNN', 'gated_pixelcnn_fashion', {}, {}),
        ('PixelCNN++', 'pixelcnn_pp_fashion', {}, {}),
        ('score SDE VP (PF-ODE)', 'score_sde_fashion_vp', {'eval.dequantize': True}, {}),
        ('score SDE sub-VP (PF-ODE)', 'score_sde_fashion_subvp', {'eval.dequantize': True}, {}),
        ('rectified flow (ODE)', 'rectified_flow_fashion', {}, {}),
        (f'RealNVP, {U}', 'realnvp_fashion', {}, {'paper': {'bpd': _PAPER['RealNVP']}}),
        (f'RealNVP, {V}', 'realnvp_fashion_vdeq', {}, VDEQ),
        (f'Glow additive, {U}', 'glow_additive_fashion', {}, {}),
        (f'Glow additive, {V}', 'glow_additive_fashion_vdeq', {}, VDEQ),
        (f'Glow affine, {U}', 'glow_fashion', {}, {'paper': {'bpd': _PAPER['Glow']}}),
        (f'Glow affine, {V}', 'glow_fashion_vdeq', {},
         {**VDEQ, 'paper': {'bpd': _PAPER['Flow++']}}),
        (f'CNF (ODE), {U}', 'cnf_fashion', {}, {'paper': {'bpd': _PAPER['FFJORD']}}),
        (f'CNF (ODE), {V}', 'cnf_fashion', {}, VDEQ))
# The rows a smoke build evaluates: one of each kind of step (a best-checkpoint PixelCNN, an ODE
# likelihood, a jointly trained q, a q trained after its CNF).
SMOKE = ('PixelCNN', 'score SDE VP (PF-ODE)', f'Glow affine, {U}', f'Glow affine, {V}',
         f'CNF (ODE), {U}', f'CNF (ODE), {V}')
ODE = {'likelihood.solver': 'dopri5', 'likelihood.rtol': 1e-5, 'likelihood.atol': 1e-5,
       'likelihood.probes': 1}


def _rows():
  out = []
  for label, run, over, extra in ROWS:
    ode = 'ODE' in label
    out.append(Row(label, run, {**over, **(ODE if ode else {})},
                   scales=() if label in SMOKE else ('laptop', 'paper'),
                   step='best' if 'PixelCNN' in label else None,
                   scale_overrides={'smoke': {'likelihood.solver': 'euler', 'likelihood.steps': 2}}
                   if ode else {}, **extra))
  return tuple(out)


CLAIM = (Compare('score SDE sub-VP (PF-ODE)', 'score SDE VP (PF-ODE)', 'bpd'),)
# The PixelCNN family in order, each early-stopped by its validation bits/dim.
CLAIM_PIXELCNN = (Compare('Gated PixelCNN', 'PixelCNN', 'bpd'),
                  Compare('PixelCNN++', 'Gated PixelCNN', 'bpd'))
# The coupling flows in order (Kingma & Dhariwal 2018; Dinh et al. 2017), uniform bounds.
CLAIM_FLOWS = (Compare(f'Glow affine, {U}', f'RealNVP, {U}', 'bpd'),
               Compare(f'RealNVP, {U}', 'NICE', 'bpd'))
# Per family: the variational bound below the uniform one (paired by seed: the coupling flows'
# rows are two trainings, the CNF's one training under two bounds).
CLAIM_VDEQ = tuple(Compare(f'{f}, {V}', f'{f}, {U}', 'bpd')
                   for f in ('RealNVP', 'Glow additive', 'Glow affine', 'CNF (ODE)'))


def get_table():
  return Table(
      name='fashion_likelihood',
      title='Bits/dim of every family on Fashion-MNIST (uniform and variational dequantization)',
      source='none for our numbers (no paper reports this table); the flows\' papers for the '
             'paper column: ' + '; '.join(f'{k}: {r.source.paper}, {r.source.where}'
                                          for k, r in _REFS.items()),
      paper_setting='CIFAR-10 test bits/dim of each paper\'s own model, not Fashion-MNIST: '
                    'RealNVP beside RealNVP, Glow beside Glow affine, FFJORD beside the CNF, '
                    'Flow++ (variational dequantization, its own couplings) beside Glow affine '
                    'with variational dequantization',
      columns=(Column('bpd', 'bits/dim', 'lower'), Column('likelihood', 'likelihood'),
               Column('bpd_std', 'per-image std', '', '.3f'),
               Column('likelihood_nfe', 'likelihood NFE', '', '.0f'),
               Column('likelihood_seconds', 'likelihood s', '', '.1f'),
               Column('num_params', 'parameters', '', ',d')),
      rows=_rows(), metrics=('bpd',),
      scales={
          'smoke': Scale('Smoke: 4-5 step Fashion-MNIST runs on 256 (or stand-in) images, one '
                         'evaluation batch (meaningless numbers).', runs.SMOKE,
                         seeds=(0, 1), keys=(0, 1)),
          'laptop': Scale('Laptop: Fashion-MNIST (Debian\'s dataset-fashion-mnist), each run '
                          f'{runs.FASHION_STEPS} steps, the first 500 test images.',
                          runs.LAPTOP, {'eval.batch_size': 250, 'eval.num_batches': 2},
                          seeds=(0, 1, 2)),
      },
      claims=(Claim('sub-VP gives lower bits/dim than VP (Score SDE Table 2\'s claim, here on '
                    'Fashion-MNIST)', CLAIM),
              Claim('Each later PixelCNN has a lower bits/dim than the one before it (van den '
                    'Oord et al. 2016; Salimans et al. 2017)', CLAIM_PIXELCNN),
              Claim('Glow < RealNVP < NICE in bits/dim (the papers\' CIFAR-10 order: Glow '
                    '3.35, RealNVP 3.49; NICE reports no CIFAR-10 number)', CLAIM_FLOWS),
              Claim('Variational dequantization gives a lower bits/dim than uniform, per family '
                    '(Flow++, Ho et al. 2019: its ablation of uniform dequantization)',
                    CLAIM_VDEQ)),
      notes='The PixelCNNs are evaluated at the checkpoint of their lowest validation bits/dim '
            '(2000 training images held out, a checkpoint every 200 steps). A variational row\'s '
            'bits/dim is its bpd_vdeq (one draw of q per test image). The coupling flows\' '
            'variational rows are separate trainings (q trained jointly), so their comparison '
            'with the uniform row includes training noise; the CNF\'s two rows are one model.')
