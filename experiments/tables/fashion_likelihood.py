"""One likelihood table across every family on Fashion-MNIST, with one dequantization.

    python -m launch.table experiments/tables/fashion_likelihood.py --scale laptop

No paper has this table. Every family is scored in bits/dim by `jaxgen.metrics.bpd`'s one
definition on the same 256 levels of the Fashion-MNIST test images: exact discrete likelihoods
for the PixelCNNs; for the continuous families the uniform-dequantization bound (NICE trains on
(k + u) / 256 in [0, 1]; rectified flow trains on dequantized [-1, 1] data; the score SDEs train
on the grid k / 255 and the evaluator re-dequantizes, ``eval.dequantize``, as score_sde's code
does), so a continuous model's bits/dim can only be above its discrete likelihood. ODE
likelihoods (score SDE PF-ODE, rectified flow): dopri5 at rtol = atol = 1e-5 with one
Rademacher probe (the score_sde reference's); their NFE and wall time are reported beside the
number (NICE and the PixelCNNs need one network pass per image). Parameters: the evaluated
weights' count.

Laptop: every run trains 600 steps (runs.FASHION_STEPS; each experiment's own net, batch and
learning rate: a short, equal step budget, far from convergence), evaluated on the first 500
test images. The Glow notebook's 3.14 test bits/dim (REFERENCES.md) is the only public
Fashion-MNIST likelihood we know of; it is not a row.

Measured (laptop, 2026-12-02; experiments/tables/results/fashion_likelihood_laptop.md): 82
minutes on the 2-core CPU, which it shared with the rectified-flow table and a test-suite run
for most of that time (training 40 min for the seven runs, evaluation 34 min, 33.5 of them the
three ODE likelihoods; not timed alone). Bits/dim: PixelCNN++ 3.152, PixelCNN 3.554, Gated
PixelCNN 3.603 (exact), score SDE sub-VP 4.052, VP 4.138, rectified flow 4.232 (dequantized
bounds, likelihood NFE 481 / 574 / 328), NICE 6.719. At 600 steps the discrete autoregressive
models lead and NICE (19M parameters, the paper's MNIST net) is furthest from converged. Score
SDE Table 2's claim holds here: sub-VP below VP (4.052 vs 4.138), unlike on digits.
"""

from experiments.tables import runs
from jaxgen.tables.spec import Claim, Column, Compare, Row, Scale, Table

ROWS = (('NICE', 'nice_fashion', {}),
        ('PixelCNN', 'pixelcnn_fashion', {}),
        ('Gated PixelCNN', 'gated_pixelcnn_fashion', {}),
        ('PixelCNN++', 'pixelcnn_pp_fashion', {}),
        ('score SDE VP (PF-ODE)', 'score_sde_fashion_vp', {'eval.dequantize': True}),
        ('score SDE sub-VP (PF-ODE)', 'score_sde_fashion_subvp', {'eval.dequantize': True}),
        ('rectified flow (ODE)', 'rectified_flow_fashion', {}))
ODE = {'likelihood.solver': 'dopri5', 'likelihood.rtol': 1e-5, 'likelihood.atol': 1e-5,
       'likelihood.probes': 1}


def _rows():
  out = []
  for label, run, over in ROWS:
    ode = 'ODE' in label
    smoke = label in ('PixelCNN', 'score SDE VP (PF-ODE)')
    out.append(Row(label, run, {**over, **(ODE if ode else {})},
                   scales=() if smoke else ('laptop', 'paper'),
                   scale_overrides={'smoke': {'likelihood.solver': 'euler', 'likelihood.steps': 2}}
                   if ode else {}))
  return tuple(out)


CLAIM = (Compare('score SDE sub-VP (PF-ODE)', 'score SDE VP (PF-ODE)', 'bpd'),)


def get_table():
  return Table(
      name='fashion_likelihood',
      title='Bits/dim of every family on Fashion-MNIST (one dequantization)',
      source='none: no paper reports this table (the families\' own papers use other data)',
      paper_setting='',
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
                    'Fashion-MNIST)', CLAIM),))
