"""DDPM++ cont. (VP) on CIFAR-10: Song et al. (ICLR 2021), the paper's hyperparameters.

    python -m launch.train --config experiments/score_sde/ddpmpp_cont_vp.py --workdir runs/ddpmpp_cont_vp
    python -m launch.sample --workdir runs/ddpmpp_cont_vp --config.sampling.method=ode --config.sampling.solver=dopri5

Setup (reference configs): continuous vpsde, data tfds:cifar10 scaled to [-1, 1] with random
horizontal flips; U-Net DDPM++ (nf 128, ch_mult (1,2,2,2),
4 res blocks, attention at 16x16); batch 128, Adam 2e-4 (b1 0.9, eps 1e-8),
warm-up 5000, grad clip 1, EMA 0.9999, 1.3M iterations, snapshot every 50k, seed 42;
DSM with t ~ U(1e-5, 1), reduce_mean True; sampling: PC with 1000 steps, Euler-Maruyama predictor, no corrector,
snr 0.16, final denoising; bits/dim via the PF-ODE (dopri5, rtol = atol = 1e-5, one Rademacher
probe).

Runtime: not runnable on the 2-core CPU (the paper trained on TPUs / multi-GPU for days); the
`smoke` variant (nf 16, 1 res block, ch_mult (1, 2), 4 steps; on a stand-in of the same shape
where CIFAR-10 is not on the machine) runs in well under a minute.
Expected result (the paper's numbers, not reproduced here): Table 2: NLL 3.16 bits/dim, FID 3.93 with the PF-ODE; Table 3: FID 2.55, IS 9.58 (PC sampler).
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = common.score_sde_cifar10('vpsde', deep=False)
  return cfg.select(config, arg, smoke=common.score_sde_cifar10_smoke)
