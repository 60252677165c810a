"""The ODE solver and time-grid names a config may use, as printed by ``python -m launch.solvers``."""

from __future__ import annotations

from jaxgen.diffusion import sampler
from jaxgen.ode import grids
from jaxgen.ode import solvers


def solvers_text() -> str:
  """One line per solver (its description), alias and grid, then the SolverSpec defaults."""
  lines = ['solvers (sampling.solver):']
  lines += [f'  {name:<10s} {solvers.SOLVERS[name].description}' for name in solvers.names()]
  lines += [f'  {alias:<10s} alias of {target}' for alias, target in solvers.ALIASES.items()]
  lines.append('grids (sampling.grid, fixed-step solvers):')
  lines += [f'  {name:<10s} {text}' for name, text in grids.DESCRIPTIONS.items()]
  own = ', '.join(f'{m}: {g}' for m, g in sampler.DEFAULT_GRIDS.items())
  lines.append(f"  {'default':<10s} score SDEs only: each method's own grid ({own}; else uniform)")
  lines.append(f'defaults: {dict(solvers.defaults())}')
  return '\n'.join(lines)
