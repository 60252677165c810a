"""Lists jaxgen's ODE solvers and time grids.

usage: python -m launch.solvers

Solver names are the values of `sampling.solver` (and `likelihood.solver`) that
`jaxgen.ode.solvers.SolverSpec` accepts; grid names are the values of `sampling.grid`
(fixed-step solvers only).
"""

import argparse
import sys


def main(argv=()) -> int:
  argparse.ArgumentParser(prog='python -m launch.solvers', usage='%(prog)s',
                          description=__doc__.split('\n\n', 2)[2],
                          formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
  from jaxgen.tools import listing

  print(listing.solvers_text())
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
