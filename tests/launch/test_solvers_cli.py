"""launch.solvers' listing (launch.nice_inpaint became launch.inpaint: tests/launch/test_inpaint.py)."""

from jaxgen.ode import grids
from jaxgen.ode import solvers
from launch import solvers as launch_solvers


def test_solvers_lists_every_solver_alias_and_grid(capsys):
  launch_solvers.main()
  out = capsys.readouterr().out
  for name in solvers.names() + list(solvers.ALIASES) + list(grids.NAMES):
    assert f'  {name} ' in out
  assert solvers.SOLVERS['dopri5'].description in out
