"""One likelihood table across every family on Fashion-MNIST, with one dequantization (no paper
has this table).

    python -m launch.table experiments/tables/fashion_likelihood.py --scale laptop

Time and results: experiments/tables/results/fashion_likelihood_laptop.md.
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
                   step='best' if 'PixelCNN' in label else None,
                   scale_overrides={'smoke': {'likelihood.solver': 'euler', 'likelihood.steps': 2}}
                   if ode else {}))
  return tuple(out)


CLAIM = (Compare('score SDE sub-VP (PF-ODE)', 'score SDE VP (PF-ODE)', 'bpd'),)
# The PixelCNN family in order, each early-stopped by its validation bits/dim.
CLAIM_PIXELCNN = (Compare('Gated PixelCNN', 'PixelCNN', 'bpd'),
                  Compare('PixelCNN++', 'Gated PixelCNN', 'bpd'))


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
                    'Fashion-MNIST)', CLAIM),
              Claim('Each later PixelCNN has a lower bits/dim than the one before it (van den '
                    'Oord et al. 2016; Salimans et al. 2017)', CLAIM_PIXELCNN)),
      notes='The PixelCNNs are evaluated at the checkpoint of their lowest validation bits/dim '
            '(2000 training images held out, a checkpoint every 200 steps).')
