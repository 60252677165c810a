"""Lists jaxgen's ODE solvers and time grids: ``python -m launch.solvers``.

Solver names are the values of ``sampling.solver`` (and ``likelihood.solver``) that
`jaxgen.ode.solvers.SolverSpec` accepts; grid names are the values of ``sampling.grid``
(fixed-step solvers only).
"""


def main():
  from jaxgen.tools import listing

  print(listing.solvers_text())


if __name__ == '__main__':
  main()
