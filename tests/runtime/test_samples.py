"""samples/<name>.png and .npz (`jaxgen.runtime.samples`): written atomically and sealed by a
record, so a picture cut short (a kill, a full disk) counts as unfinished and a rerun remakes it;
a failed write leaves the previous picture whole; a picture is named by the sampling settings that
differ from the run's config, so other settings never overwrite it."""

import errno
import os
import types

import numpy as np
import pytest

from jaxgen.data import DataSpec
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import overrides as overrides_lib
from jaxgen.runtime import samples
from jaxgen.runtime import viz
from jaxgen.runtime import workdir as workdir_lib

EXP = 'experiments/rectified_flow/toy2d.py:smoke'


def stub_run(x, spec, config=None, step=6):
  """What `samples.write` and `samples.default_name` read of a Run (no model, no network)."""
  config = config or cfg_lib.validate(cfg_lib.load(EXP))
  config.sampling.num_samples = len(x)
  return types.SimpleNamespace(config=config, params=None, sample_rng=lambda step: None, step=step,
                               data=types.SimpleNamespace(spec=spec, eval_array=lambda n: x),
                               model=types.SimpleNamespace(sampling_label=lambda s: s.solver,
                                                           sampling_settings=lambda s: s))


def draw_of(x):
  return lambda params, rng, n, sampling: (x, {'nfe': np.asarray(3)})


IMAGES = DataSpec('synthetic', (4, 4, 1), 0.0, 1.0, 256, None, 'unit')


def test_a_picture_cut_short_is_not_finished_and_a_rerun_makes_it_whole(tmp_path):
  x = np.random.default_rng(0).uniform(size=(9, 4, 4, 1))
  run, w = stub_run(x, IMAGES), str(tmp_path)
  png = samples.write(run, w, 6, draw=draw_of(x))
  whole = open(png, 'rb').read()
  assert np.load(tmp_path / 'samples' / 'step_6.npz')['nfe'].shape == ()   # a scalar stays one
  assert samples.finished(w, 'step_6') and sorted(os.listdir(tmp_path / 'samples')) == [
      'step_6.json', 'step_6.npz', 'step_6.png']
  with open(png, 'wb') as f:   # as a kill or a full disk in the middle of an in-place write
    f.write(whole[:len(whole) // 2])
  assert not samples.finished(w, 'step_6')
  os.remove(tmp_path / 'samples' / 'step_6.npz')
  assert not samples.finished(w, 'step_6') and not samples.finished(w, 'step_7')
  samples.write(run, w, 6, draw=draw_of(x))
  assert samples.finished(w, 'step_6') and open(png, 'rb').read() == whole


def test_a_failed_picture_write_leaves_the_previous_picture_whole(tmp_path, monkeypatch):
  path = str(tmp_path / 'a.png')
  viz.write_png(path, np.zeros((4, 4), np.uint8))
  before = open(path, 'rb').read()

  def full(fd):
    raise OSError(errno.ENOSPC, 'No space left on device')

  monkeypatch.setattr(os, 'fsync', full)
  with pytest.raises(OSError):
    viz.write_png(path, np.full((8, 8), 255, np.uint8))
  assert open(path, 'rb').read() == before and os.listdir(tmp_path) == ['a.png']


@pytest.mark.parametrize('over, name', [
    ({}, 'sample_4_euler'),
    ({'sampling.solver': 'heun', 'sampling.steps': '20'}, 'sample_4_heun_steps-20'),
    ({'sampling.solver': 'heun', 'sampling.steps': '100'}, 'sample_4_heun_steps-100'),
    ({'sampling.solver': 'dopri5', 'sampling.rtol': '1e-3'}, 'sample_4_dopri5_rtol-0.001'),
])
def test_a_picture_is_named_by_the_settings_that_differ_from_the_runs_config(tmp_path, over,
                                                                            name):
  """Heun with 20 and with 100 steps, or dopri5 with another rtol, no longer share a name (the
  solver, already the sampler's name, is not repeated)."""
  stored = cfg_lib.validate(cfg_lib.load(EXP))
  workdir_lib.write_config(str(tmp_path), stored)
  config = cfg_lib.validate(overrides_lib.apply(cfg_lib.load(EXP), over))
  run = stub_run(np.zeros((config.sampling.num_samples, 2)), IMAGES, config, step=4)
  assert samples.default_name(run, str(tmp_path)) == name
