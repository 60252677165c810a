"""The net of experiments/cnf/toy2d.py trained by rectified-flow regression (flow matching), to set
beside the maximum-likelihood CNF on one net (nll, sampling NFE, wall time).

    python -m launch.train --config experiments/cnf/toy2d_flow_matching.py --workdir runs/fm_moons

A rectified_flow run: same data, net, optimiser, steps and sampler (RK4, 16 steps) as the CNF;
``eval/nll`` through the exact-trace dopri5 solve. Variants: ``smoke``, ``checkerboard``,
``8gaussians``, ``swissroll``.
Runtime: 600 steps took 37 seconds on a shared 2-core CPU (one net call per step, no solve).
Expected result at 600 steps: eval/nll 2.32 nats (dopri5, 604 NFE), sliced Wasserstein 0.180;
the CNF: 1.91 nats, 0.174, in 7 minutes.
"""

from experiments import common
from experiments.cnf import toy2d
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('rectified_flow')
  toy2d.net(config)
  cnf = toy2d.get_config()
  for key in ('optim', 'train', 'eval'):
    config[key] = cnf[key]
  for key in ('solver', 'steps', 'num_samples'):
    config.sampling[key] = cnf.sampling[key]

  def smoke(c):
    common.smoke(c, steps=3, batch_size=32, eval_batch_size=64, num_samples=64)
    c.model.score_mlp.width = 16
    c.model.score_mlp.num_layers = 1
    c.sampling.steps = 2
    c.likelihood.solver = 'euler'
    c.likelihood.steps = 2

  def data(name):
    return lambda c: setattr(c.data, 'name', 'toy2d:' + name)

  return cfg.select(config, arg, smoke=smoke, checkerboard=data('checkerboard'),
                    swissroll=data('swissroll'),
                    **{'8gaussians': data('8gaussians')})
