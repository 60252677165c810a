"""NCSN++ cont. (VE) on CIFAR-10: Song et al. (ICLR 2021), the paper's hyperparameters.

    python -m launch.train --config experiments/score_sde/ncsnpp_cont_ve.py --workdir runs/ncsnpp_cont_ve
    python -m launch.sample --workdir runs/ncsnpp_cont_ve --config.sampling.method=ode --config.sampling.solver=dopri5

Settings: the reference configs (`experiments.common.score_sde_cifar10`). Variants: ``smoke``.
Runtime: days on accelerators; not runnable on this 2-core CPU (``smoke`` runs in a minute).
Expected result (the paper's numbers, not reproduced here): Table 3: FID 2.38, IS 9.83 (PC sampler:
reverse diffusion + Langevin, snr 0.16); no NLL reported for VE.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = common.score_sde_cifar10('vesde', deep=False)
  return cfg.select(config, arg, smoke=common.score_sde_cifar10_smoke)
