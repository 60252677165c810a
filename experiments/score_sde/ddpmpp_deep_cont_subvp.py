"""DDPM++ cont. (deep, sub-VP) on CIFAR-10: Song et al. (ICLR 2021), the paper's hyperparameters.

    python -m launch.train --config experiments/score_sde/ddpmpp_deep_cont_subvp.py --workdir runs/ddpmpp_deep_cont_subvp
    python -m launch.sample --workdir runs/ddpmpp_deep_cont_subvp --config.sampling.method=ode --config.sampling.solver=dopri5

Settings: the reference configs (`experiments.common.score_sde_cifar10`). Variants: ``smoke``.
Runtime: days on accelerators; not runnable on this 2-core CPU (``smoke`` runs in a minute).
Expected result (the paper's numbers, not reproduced here): Table 2: NLL 2.99 bits/dim, FID 2.92
with the PF-ODE; the reference README lists FID 2.41, IS 9.57 for SDE samples.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = common.score_sde_cifar10('subvpsde', deep=True)
  return cfg.select(config, arg, smoke=common.score_sde_cifar10_smoke)
