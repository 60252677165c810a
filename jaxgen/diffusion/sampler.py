"""The one diffusion sampler dispatcher: ``sample(sde, score_fn, rng, shape, settings)``.

Conventions (those of `jaxgen.diffusion.sde`): t = 0 data, t = T noise; ``score_fn(t[b], x) ->
grad_x log p_t(x)``; samples start from the SDE's prior at ``T`` and end at the end time ``eps``
(``eps < 0``: the SDE's own, 1e-3 for VP / sub-VP and 1e-5 for VE, the paper's), in the space the
score was trained in. Returns ``(x, {'nfe': int32})``: score evaluations per sample.

The settings are a frozen `DiffusionSampling`, built once from a config section with
`DiffusionSampling.from_config` (flat keys, one vocabulary):

  method        'pc' | 'ode' | 'ddim' | 'dpm_solver' | 'dpm_solver++2m' | 'edm'
  steps         steps of every method (0: ``sde.N``); solver, grid, rtol, atol, per_example,
                max_steps, rho, shift: the `jaxgen.ode.solvers.SolverSpec` keys (``settings.ode``)
  eps, denoise  end time; a final Tweedie step at eps for 'pc' and 'ode' (+1 NFE)
  'pc'          predictor, corrector, snr, n_steps_each, probability_flow (`jaxgen.diffusion.pc`;
                uniform grid in t; ``steps (pred + n_steps_each corr)`` NFE)
  'ode'         the probability-flow ODE from T to eps with ``solver`` on ``grid`` (names, a solver
                function, a grid array: `jaxgen.ode.solvers.integrate`)
  'ddim'        ddim_eta (0: deterministic, 1: ancestral) on ``grid``; ``steps`` NFE
  'dpm_solver'  singlestep DPM-Solver-``dpm_order`` (1, 2, 3) on ``grid``; ``dpm_order * steps``
                NFE. Best on ``grid='log_snr'`` (the paper's); the grid is honoured as given.
  'dpm_solver++2m'  DPM-Solver++(2M) on ``grid``; ``steps`` NFE; also best on 'log_snr'
  'edm'         Karras et al.'s Heun sampler on EDM's rho-schedule of noise levels (``rho``)
                between sigma_edm(T) and sigma_edm(eps), then 0; edm_churn, edm_tmin, edm_tmax,
                edm_noise (the paper's S_churn, S_tmin, S_tmax, S_noise); ``2 steps - 1`` NFE;
                returns the denoised estimate at sigma = 0. It reads no ``grid``.

A grid array is used as given (its first entry should be T, its last the end time).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax

from jaxgen.diffusion import ddim, dpm_solver, edm, pc
from jaxgen.ode import solvers

METHODS = ('pc', 'ode', 'ddim', 'dpm_solver', 'dpm_solver++2m', 'edm')
DPM_ORDERS = (1, 2, 3)


@dataclasses.dataclass(frozen=True)
class DiffusionSampling:
  """Settings of `sample` (module docstring). ``steps`` (0: the SDE's ``N``) is resolved per SDE;
  ``ode`` holds the solver, grid and tolerances (its own ``steps`` is replaced by ``steps``)."""

  method: str = 'pc'
  steps: int = 100
  ode: solvers.SolverSpec = solvers.SolverSpec()
  eps: float = -1.0
  denoise: bool = True
  predictor: str = 'reverse_diffusion'
  corrector: str = 'langevin'
  snr: float = 0.16
  n_steps_each: int = 1
  probability_flow: bool = False
  ddim_eta: float = 0.0
  dpm_order: int = 3
  edm_churn: float = 0.0
  edm_tmin: float = 0.0
  edm_tmax: float = float('inf')
  edm_noise: float = 1.0

  def __post_init__(self):
    def refuse(key, value, allowed):
      if value not in allowed:
        raise ValueError(f'sampling.{key}={value!r} is not allowed; choose one of: '
                         f'{", ".join(map(repr, allowed))}')
    refuse('method', self.method, METHODS)
    refuse('predictor', self.predictor, pc.PREDICTORS)
    refuse('corrector', self.corrector, pc.CORRECTORS)
    refuse('dpm_order', self.dpm_order, DPM_ORDERS)
    if self.method == 'pc' and self.predictor == 'ancestral' and self.probability_flow:
      raise ValueError("sampling.probability_flow=True has no 'ancestral' version; use "
                       "sampling.predictor='reverse_diffusion' or 'euler_maruyama'")

  @classmethod
  def from_config(cls, section=None, base: 'DiffusionSampling | None' = None
                  ) -> 'DiffusionSampling':
    """The settings of a ``sampling`` section (ConfigDict or dict, flat keys as in the module
    docstring); keys it lacks come from ``base`` (default: the class defaults), other keys are
    ignored. A `DiffusionSampling` is returned as is."""
    if isinstance(section, DiffusionSampling):
      return section
    base = cls() if base is None else base
    section = {} if section is None else section
    values = {f.name: (section[f.name] if f.name in section else getattr(base, f.name))
              for f in dataclasses.fields(cls) if f.name != 'ode'}
    ode = {f.name: (section[f.name] if f.name in section else getattr(base.ode, f.name))
           for f in dataclasses.fields(solvers.SolverSpec) if f.name != 'steps'}
    return cls(ode=solvers.SolverSpec(**ode), **values)

  @property
  def label(self) -> str:
    """The method, or for 'ode' the solver's name (a solver function: its ``__name__``, so set
    that to name a user-written solver)."""
    if self.method != 'ode':
      return self.method
    s = self.ode.solver
    return s if isinstance(s, str) else getattr(s, '__name__', 'custom')

  @property
  def adaptive_ode(self) -> bool:
    """Whether `sample` runs an adaptive ODE solve."""
    return self.method == 'ode' and self.ode.adaptive

  def steps_for(self, sde) -> int:
    """``steps``, 0 meaning the SDE's ``N``."""
    return int(self.steps or sde.N)

  def end_time(self, sde) -> float:
    """``eps``, negative meaning the SDE's own (the paper's)."""
    return float(sde.eps if self.eps < 0 else self.eps)

  def pc_kwargs(self, sde) -> dict:
    """The keyword arguments of `jaxgen.diffusion.pc.pc_sample` (also read by the controllable
    samplers of `jaxgen.diffusion.controllable`)."""
    return dict(predictor=self.predictor, corrector=self.corrector, snr=self.snr,
                n_steps_each=self.n_steps_each, steps=self.steps_for(sde),
                eps=self.end_time(sde), denoise=self.denoise,
                probability_flow=self.probability_flow)


def sample(sde, score_fn, rng: jax.Array, shape, settings: Any = None):
  """Samples ``shape = (n, *data_shape)`` with ``settings`` (a `DiffusionSampling`, or a section /
  dict of its keys); returns ``(x, {'nfe'})`` (module docstring)."""
  s = DiffusionSampling.from_config(settings)
  steps, eps = s.steps_for(sde), s.end_time(sde)
  spec = s.ode.replace(steps=steps)
  if s.method == 'pc':
    return pc.pc_sample(sde, score_fn, rng, shape, **s.pc_kwargs(sde))
  if s.method == 'edm':
    return edm.sample_sde(sde, score_fn, rng, shape, steps, rho=spec.rho, eps=eps,
                          S_churn=s.edm_churn, S_tmin=s.edm_tmin, S_tmax=s.edm_tmax,
                          S_noise=s.edm_noise)
  r0, r1 = jax.random.split(rng)
  x = sde.prior_sample(r0, tuple(shape))
  if s.method == 'ode':
    x, stats = solvers.integrate(sde.pf_ode(score_fn), x, sde.T, eps, spec, schedule=sde)
    if s.denoise:
      return pc.denoise_step(sde, score_fn, x, eps), {'nfe': stats['nfe'] + 1}
    return x, {'nfe': stats['nfe']}
  ts = spec.time_grid(sde.T, eps, schedule=sde)
  eps_fn = sde.noise_from_score(score_fn)
  if s.method == 'ddim':
    return ddim.ddim(eps_fn, x, ts, sde, eta=s.ddim_eta, rng=r1)
  if s.method == 'dpm_solver':
    return dpm_solver.dpm_solver(eps_fn, x, ts, sde, order=s.dpm_order)
  return dpm_solver.dpm_solver_pp_2m(eps_fn, x, ts, sde)
