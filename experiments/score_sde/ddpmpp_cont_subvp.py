"""DDPM++ cont. (sub-VP) on CIFAR-10: Song et al. (ICLR 2021), the paper's hyperparameters.

    python -m launch.train --config experiments/score_sde/ddpmpp_cont_subvp.py --workdir runs/ddpmpp_cont_subvp
    python -m launch.sample --workdir runs/ddpmpp_cont_subvp --config.sampling.method=ode --config.sampling.solver=dopri5

Settings: the reference configs (`experiments.common.score_sde_cifar10`). Variants: ``smoke``.
Runtime: days on accelerators; not runnable on this 2-core CPU (``smoke`` runs in a minute).
Expected result (the paper's numbers, not reproduced here): Table 2: NLL 3.02 bits/dim, FID 3.16
with the PF-ODE; the reference README lists FID 2.61, IS 9.56 for SDE samples.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = common.score_sde_cifar10('subvpsde', deep=False)
  return cfg.select(config, arg, smoke=common.score_sde_cifar10_smoke)
