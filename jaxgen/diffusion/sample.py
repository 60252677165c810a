"""Samplers for diffusion models (score-SDE time: t = 0 data, t = T noise), all jit-able.

One calling convention, k-diffusion style: a model function, the starting point, an explicit
decreasing time (or noise) grid, options; returns ``(x, stats)`` with ``stats['nfe']`` an int32
array (network evaluations per sample).

    ddim.ddim(eps_fn, x, ts, sde, *, eta=0.0, rng=None)
    dpm_solver.dpm_solver(eps_fn, x, ts, sde, *, order=3)             # singlestep DPM-Solver-k
    dpm_solver.dpm_solver_pp_2m(eps_fn, x, ts, sde, *, lower_order_final=True)
    edm.edm_sampler(denoiser, x, sigmas, *, rng=None, S_churn=0., S_tmin=0., S_tmax=inf,
                    S_noise=1.)
    pc (the score-SDE family's predictor-corrector samplers, separate module)

``eps_fn(x, t)``: noise prediction, ``t: [b]`` (from a score: ``sde.noise_from_score(score_fn)``);
``denoiser(x, sigma)``: EDM denoiser, ``sigma: [b]`` (from a score:
``edm.denoiser_from_score(sde, score_fn)``). Grids come from `jaxgen.ode.grids`.

Convenience for families: ``sample_diffusion(sde, score_fn, rng, shape, sampling)`` starts from the
prior and dispatches on ``sampling.method``:

  'ddim'           DDIM with ``eta`` on ``sampling.grid`` (steps evaluations)
  'dpm_solver'     singlestep DPM-Solver-``dpm_order`` with ``steps`` steps (dpm_order * steps
                   evaluations); use ``grid='log_snr'`` as in the paper
  'dpm_solver++2m' DPM-Solver++(2M), ``steps`` evaluations
  'edm'            EDM Heun sampler, rho-grid over the SDE's noise range (2 steps - 1 evaluations)
  'ode'            the probability-flow ODE with `jaxgen.ode.solvers.integrate` (any solver / grid)
It reads the keys of ``defaults()`` (= `jaxgen.ode.solvers.defaults()` plus the sampler keys).
"""

from __future__ import annotations

import ml_collections

from jaxgen.ode import grids
from jaxgen.ode import solvers
from jaxgen.diffusion import ddim as ddim_lib
from jaxgen.diffusion import dpm_solver as dpm_lib
from jaxgen.diffusion import edm as edm_lib

METHODS = ('ode', 'ddim', 'dpm_solver', 'dpm_solver++2m', 'edm')


def defaults() -> ml_collections.ConfigDict:
  """Sampling keys read by ``sample_diffusion`` (families embed them in their schema)."""
  cfg = solvers.defaults()
  cfg.method = 'ode'
  cfg.eta = 0.0
  cfg.dpm_order = 3
  cfg.S_churn = 0.0
  cfg.S_tmin = 0.0
  cfg.S_tmax = float('inf')
  cfg.S_noise = 1.0
  return cfg


def sample_diffusion(sde, score_fn, rng, shape, sampling):
  """Samples ``shape = (n, *data_shape)`` from ``sde``'s prior at T down to ``sde.eps``.

  Returns ``(x, stats)`` (``stats['nfe']``). For 'edm' the result is the denoised estimate at
  sigma = 0; the others return the state at ``t = sde.eps`` (no final denoising step).
  """
  cfg = defaults().to_dict()
  for k in cfg:
    if k in sampling:
      cfg[k] = sampling[k]
  cfg = ml_collections.ConfigDict(cfg)
  import jax  # local: keep the package import light
  r0, r1 = jax.random.split(rng)
  if cfg.method == 'edm':
    return edm_lib.sample_sde(sde, score_fn, rng, shape, cfg.steps, rho=cfg.rho,
                              S_churn=cfg.S_churn, S_tmin=cfg.S_tmin, S_tmax=cfg.S_tmax,
                              S_noise=cfg.S_noise)
  x = sde.prior_sample(r0, shape)
  if cfg.method == 'ode':
    return solvers.integrate(sde.pf_ode(score_fn), x, sde.T, sde.eps, cfg, schedule=sde)
  ts = grids.make(cfg.grid, sde.T, sde.eps, cfg.steps, rho=cfg.rho, shift_a=cfg.shift,
                  schedule=sde)
  eps_fn = sde.noise_from_score(score_fn)
  if cfg.method == 'ddim':
    return ddim_lib.ddim(eps_fn, x, ts, sde, eta=cfg.eta, rng=r1)
  if cfg.method == 'dpm_solver':
    return dpm_lib.dpm_solver(eps_fn, x, ts, sde, order=cfg.dpm_order)
  if cfg.method in ('dpm_solver++2m', 'dpm_solver_pp_2m'):
    return dpm_lib.dpm_solver_pp_2m(eps_fn, x, ts, sde)
  raise ValueError(f'unknown sampling.method {cfg.method!r}; use one of {", ".join(METHODS)}')
