"""launch.nice_inpaint on a smoke NICE run (files, observed pixels kept, one-line refusals) and
launch.solvers' listing."""

import os

import numpy as np

from jaxgen.ode import grids
from jaxgen.ode import solvers
from launch import nice_inpaint as launch_inpaint
from launch import solvers as launch_solvers
from launch import train as launch_train


def test_inpaint_writes_the_picture_and_keeps_the_observed_pixels(tmp_path, capsys):
  w = str(tmp_path / 'nice')
  assert launch_train.main(['--config', 'experiments/nice/digits.py:smoke', '--workdir', w,
                            '--config.train.progress=false']) == 0
  assert launch_inpaint.main(['--workdir', w, '--num', '2', '--masks', 'bottom_half,random',
                              '--config.sampling.inpaint_steps=3']) == 0
  out = capsys.readouterr().out
  assert 'bottom_half' in out and 'random' in out
  with np.load(os.path.join(w, 'samples', 'inpaint_5.npz')) as f:
    x, mask, filled, lp = f['original'], f['mask'], f['inpainted'], f['log_prob']
    assert list(f['kinds']) == ['bottom_half', 'random']
  assert x.shape == filled.shape == mask.shape == (4, 8, 8, 1) and lp.shape[1] == 4
  np.testing.assert_array_equal(filled[mask], x[mask])   # observed pixels are never changed
  assert os.path.exists(os.path.join(w, 'samples', 'inpaint_5.png'))
  assert launch_inpaint.main(['--workdir', w, '--config.model.hidden=8']) == 2
  err = capsys.readouterr().err
  assert err.startswith('error: only sampling.*') and 'Traceback' not in err


def test_solvers_lists_every_solver_alias_and_grid(capsys):
  launch_solvers.main()
  out = capsys.readouterr().out
  for name in solvers.names() + list(solvers.ALIASES) + list(grids.NAMES):
    assert f'  {name} ' in out
  assert solvers.SOLVERS['dopri5'].description in out
