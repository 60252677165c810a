"""Lists jaxgen's ODE solvers and time grids: ``python -m launch.solvers``.

Solver names are the values of ``sampling.solver`` read by `jaxgen.ode.solvers.integrate`; grid names
are the values of ``sampling.grid`` (fixed-step solvers only).
"""

from jaxgen.ode import grids
from jaxgen.ode import solvers


def main():
  print('solvers (sampling.solver):')
  for name in solvers.names():
    print(f'  {name:<10s} {solvers.SOLVERS[name].description}')
  for alias, target in solvers.ALIASES.items():
    print(f'  {alias:<10s} alias of {target}')
  print('grids (sampling.grid, fixed-step solvers):')
  desc = {'uniform': 'equally spaced in t',
          'edm': 'Karras et al. rho schedule (sampling.rho, default 7), steps crowd near t1',
          'log_snr': 'uniform in log-SNR (needs a schedule, e.g. a jaxgen.diffusion.sde SDE)',
          'shift': "SD3 shift t' = a t / (1 + (a - 1) t) with a = sampling.shift"}
  for name in grids.NAMES:
    print(f'  {name:<10s} {desc[name]}')
  print('defaults:', dict(solvers.defaults()))


if __name__ == '__main__':
  main()
