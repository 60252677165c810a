"""The one diffusion sampler dispatcher: ``sample(sde, score_fn, rng, shape, settings)``.

Conventions (those of `jaxgen.diffusion.sde`): t = 0 data, t = T noise; ``score_fn(t[b], x) ->
grad_x log p_t(x)``; samples start from the SDE's prior at ``T`` and end at the end time ``eps``
(``eps < 0``: the SDE's own, 1e-3 for VP / sub-VP and 1e-5 for VE, the paper's), in the space the
score was trained in. Returns ``(x, {'nfe': int32})``: score evaluations per sample.

The settings are a frozen `DiffusionSampling`, built once from a config section with
`DiffusionSampling.from_config` (flat keys, one vocabulary):

  method        'pc' | 'ode' | 'ddim' | 'dpm_solver' | 'dpm_solver++2m' | 'edm'
  steps         steps of every method (0: ``sde.N``); solver, rtol, atol, per_example,
                max_steps, rho, shift: the `jaxgen.ode.solvers.SolverSpec` keys (``settings.ode``)
  grid          'default' (each method's own: 'log_snr' for both DPM-Solvers, the papers' grid;
                'uniform' for 'ode' and 'ddim'), a grid name or an array, used as given
  eps, denoise  end time; a final Tweedie step at eps for 'pc' and 'ode' (+1 NFE)
  'pc'          predictor, corrector, snr, n_steps_each, probability_flow, corrector_first (the
                reference code's order, corrector then predictor; default the paper's,
                predictor then corrector: `jaxgen.diffusion.pc`); uniform grid in t;
                ``steps (pred + n_steps_each corr)`` NFE (corrector_first: one sweep more)
  'ode'         the probability-flow ODE from T to eps with ``solver`` on ``grid`` (names, a solver
                function, a grid array: `jaxgen.ode.solvers.integrate`)
  'ddim'        ddim_eta (0: deterministic, 1: ancestral) on ``grid``; ``steps`` NFE
  'dpm_solver'  singlestep DPM-Solver-``dpm_order`` (1, 2, 3) on ``grid``; ``dpm_order * steps``
                NFE
  'dpm_solver++2m'  DPM-Solver++(2M) on ``grid``; ``steps`` NFE
  'edm'         Karras et al.'s Heun sampler on EDM's rho-schedule of noise levels (``rho``)
                between sigma_edm(T) and sigma_edm(eps), then 0; edm_churn, edm_tmin, edm_tmax,
                edm_noise (the paper's S_churn, S_tmin, S_tmax, S_noise); ``2 steps - 1`` NFE;
                returns the denoised estimate at sigma = 0. It reads no ``grid``.

A grid array is used as given (its first entry should be T, its last the end time). Only 'ode'
reads a solver (a solver function elsewhere is refused); only 'ode', 'ddim' and the DPM-Solvers
read a grid (a grid array elsewhere is refused). A bare `jaxgen.ode.solvers.SolverSpec` as the
settings means method 'ode' with that spec (its steps, solver and grid).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import ml_collections

from jaxgen.diffusion import ddim, dpm_solver, edm, pc
from jaxgen.ode import solvers

METHODS = ('pc', 'ode', 'ddim', 'dpm_solver', 'dpm_solver++2m', 'edm')
DPM_ORDERS = (1, 2, 3)
# Each method's own grid (``grid='default'``): the DPM-Solver papers' log-SNR grid, else uniform.
DEFAULT_GRIDS = {'dpm_solver': 'log_snr', 'dpm_solver++2m': 'log_snr'}
# The methods that read ``ode.grid`` / ``ode.solver`` ('pc' and 'edm' walk their own grids).
READS_GRID = ('ode', 'ddim', 'dpm_solver', 'dpm_solver++2m')
READS_SOLVER = ('ode',)


def _is_default(grid) -> bool:
  return isinstance(grid, str) and grid == 'default'


@dataclasses.dataclass(frozen=True)
class DiffusionSampling:
  """Settings of `sample` (module docstring). ``steps`` (0: the SDE's ``N``) is resolved per SDE.
  ``grid`` is the grid asked for: ``'default'`` (each method's own: 'log_snr' for both
  DPM-Solvers, 'uniform' otherwise), a grid name or an array of times. ``ode`` holds the solver
  and tolerances; its ``grid`` is ``grid`` resolved for ``method`` (set here, never 'default')
  and its ``steps`` is replaced by ``steps`` when sampling."""

  method: str = 'pc'
  steps: int = 100
  grid: Any = 'default'
  ode: solvers.SolverSpec = solvers.SolverSpec()
  eps: float = -1.0
  denoise: bool = True
  predictor: str = 'reverse_diffusion'
  corrector: str = 'langevin'
  snr: float = 0.16
  n_steps_each: int = 1
  probability_flow: bool = False
  corrector_first: bool = False
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
    if callable(self.ode.solver) and self.method not in READS_SOLVER:
      raise ValueError(f'sampling.solver: a solver function is read by method=\'ode\' only, not '
                       f'{self.method!r}; use sampling.method=\'ode\' or a solver name')
    if not isinstance(self.grid, str) and self.method not in READS_GRID:
      raise ValueError(f'sampling.grid: a grid array is read by method '
                       f'{", ".join(map(repr, READS_GRID))}, not {self.method!r}; use one of those '
                       'methods or a grid name')
    grid = DEFAULT_GRIDS.get(self.method, 'uniform') if _is_default(self.grid) else self.grid
    if not (isinstance(grid, str) and grid == self.ode.grid):
      object.__setattr__(self, 'ode', self.ode.replace(grid=grid))  # checks it; array -> tuple
    if not _is_default(self.grid):
      object.__setattr__(self, 'grid', self.ode.grid)  # hashable

  @classmethod
  def from_config(cls, section=None, base: 'DiffusionSampling | None' = None
                  ) -> 'DiffusionSampling':
    """The settings of a ``sampling`` section (ConfigDict or dict, flat keys as in the module
    docstring); keys it lacks come from ``base`` (default: the class defaults), other keys are
    ignored. A `DiffusionSampling` is returned as is; a bare `jaxgen.ode.solvers.SolverSpec` means
    the probability-flow ODE with that spec (method 'ode', its steps, solver and grid; the other
    settings from ``base``)."""
    if isinstance(section, DiffusionSampling):
      return section
    base = cls() if base is None else base
    if isinstance(section, solvers.SolverSpec):
      return dataclasses.replace(base, method='ode', steps=section.steps, grid=section.grid,
                                 ode=section)
    section = {} if section is None else section
    values = solvers.merged_fields(cls, section, base)
    values.pop('ode')
    # The ODE spec: the section's solver keys over the run's; ``steps`` and ``grid`` are this
    # class's own (a placeholder grid here; __post_init__ sets ``grid`` resolved for the method).
    ode_keys = {k: section[k] for k in section.keys() if k not in ('steps', 'grid')}
    ode = solvers.SolverSpec.from_config(ode_keys, base=base.ode.replace(grid='uniform'))
    return cls(ode=ode, **values)

  @property
  def label(self) -> str:
    """The method, or for 'ode' the solver's label (`jaxgen.ode.solvers.SolverSpec.label`);
    'pc_corrector_first' for 'pc' in the reference code's order."""
    if self.method == 'pc' and self.corrector_first:
      return 'pc_corrector_first'
    return self.ode.label if self.method == 'ode' else self.method

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
                probability_flow=self.probability_flow, corrector_first=self.corrector_first)


def defaults() -> ml_collections.ConfigDict:
  """The ``sampling`` keys of `DiffusionSampling.from_config` and their defaults as a config
  section (a family adds its own keys, e.g. ``num_samples``): the `DiffusionSampling` fields and
  the solver keys of `jaxgen.ode.solvers.defaults` (``steps`` and ``grid`` are this class's)."""
  c = solvers.defaults()
  c.update({f.name: f.default for f in dataclasses.fields(DiffusionSampling) if f.name != 'ode'})
  return c


def choices(section: str = 'sampling') -> dict:
  """The config checks of a section holding `defaults()`: method, predictor, corrector,
  dpm_order, and the solver and grid names of `jaxgen.ode.solvers.choices` (grid also
  ``'default'``)."""
  c = solvers.choices(section)
  c[f'{section}.grid'] = ('default',) + tuple(c[f'{section}.grid'])
  c.update({f'{section}.method': METHODS, f'{section}.predictor': pc.PREDICTORS,
            f'{section}.corrector': pc.CORRECTORS, f'{section}.dpm_order': DPM_ORDERS})
  return c


def sample(sde, score_fn, rng: jax.Array, shape, settings: Any = None):
  """Samples ``shape = (n, *data_shape)`` with ``settings`` (a `DiffusionSampling`, a section /
  dict of its keys, or a `jaxgen.ode.solvers.SolverSpec` for the PF-ODE); returns
  ``(x, {'nfe'})`` (module docstring)."""
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
