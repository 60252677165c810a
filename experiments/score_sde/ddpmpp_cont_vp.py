"""DDPM++ cont. (VP) on CIFAR-10: Song et al. (ICLR 2021), the paper's hyperparameters.

    python -m launch.train --config experiments/score_sde/ddpmpp_cont_vp.py --workdir runs/ddpmpp_cont_vp
    python -m launch.sample --workdir runs/ddpmpp_cont_vp --config.sampling.method=ode --config.sampling.solver=dopri5

Settings: the reference configs (`experiments.common.score_sde_cifar10`). Variants: ``smoke``.
Runtime: days on accelerators; not runnable on this 2-core CPU (``smoke`` runs in a minute).
Expected result (the paper's numbers, not reproduced here): Table 2: NLL 3.16 bits/dim, FID 3.93
with the PF-ODE; Table 3: FID 2.55, IS 9.58 (PC sampler).
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = common.score_sde_cifar10('vpsde', deep=False)
  return cfg.select(config, arg, smoke=common.score_sde_cifar10_smoke)
