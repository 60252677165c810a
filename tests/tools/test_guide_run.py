"""Autoguided sampling with another run (`jaxgen.tools.guide_run`): a guide run of another family,
data or SDE, or a missing guide step, is refused in one line (exit 2, nothing written); end to
end, ``launch.sample`` guides a smoke run with its own earlier checkpoint (twice the NFE, other
samples than unguided, the unguided ones at guide_weight=1)."""

import os

import numpy as np
import pytest

from jaxgen.runtime import config as cfg
from jaxgen.runtime import loop
from jaxgen.runtime import overrides
from jaxgen.runtime import workdir as workdir_lib
from jaxgen.tools import guide_run
from launch import sample as launch_sample
from tests.conftest import tiny_config
from tests.refusal import refused


def _score_config(**over):
  c = cfg.load('experiments/score_sde/toy2d.py:smoke')
  return cfg.validate(overrides.apply(c, over))


@pytest.mark.parametrize('guide, pattern', [
    (lambda: _score_config(), r'is a score_sde run; a rectified_flow run is guided'),
    (lambda: tiny_config(**{'data.name': 'toy2d:checkerboard'}), r"guide's data\.name='toy2d:checkerboard'"),
])
def test_mismatched_guide_config_is_refused(guide, pattern):
  with pytest.raises(cfg.ConfigError, match=pattern):
    guide_run.check_configs(tiny_config(), guide(), 'config.sampling.guide_run=G')


def test_guide_on_another_sde_is_refused():
  with pytest.raises(cfg.ConfigError, match=r"guide's model\.sde='vesde'"):
    guide_run.check_configs(_score_config(), _score_config(**{'model.sde': 'vesde'}), 'G')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('autoguide') / 'run'
  loop.train(tiny_config(), str(workdir))  # checkpoints at steps 3 and 6
  return workdir


def _npz(workdir, name):
  return np.load(os.path.join(workdir, 'samples', name + '.npz'))


def test_sample_guided_by_an_earlier_checkpoint(trained):
  wd = str(trained)
  guide = [f'--config.sampling.guide_run={wd}', '--config.sampling.guide_step=3']
  assert launch_sample.main(['--workdir', wd, '--name', 'plain']) == 0
  assert launch_sample.main(['--workdir', wd, '--name', 'ag', *guide]) == 0
  assert launch_sample.main(['--workdir', wd, '--name', 'ag1', *guide,
                             '--config.sampling.guide_weight=1']) == 0
  plain, ag, ag1 = (_npz(wd, n) for n in ('plain', 'ag', 'ag1'))
  assert int(ag['nfe']) == 2 * int(plain['nfe'])
  assert np.all(np.isfinite(ag['samples']))
  assert not np.allclose(ag['samples'], plain['samples'])
  np.testing.assert_array_equal(ag1['samples'], plain['samples'])


def test_mismatched_guide_run_is_refused_by_launch_sample(trained, tmp_path, capsys):
  other = tmp_path / 'circles'
  os.makedirs(other)
  workdir_lib.write_config(str(other), tiny_config(**{'data.name': 'toy2d:checkerboard'}))
  refused(capsys, launch_sample.main,
          ['--workdir', str(trained), f'--config.sampling.guide_run={other}'],
          r"guide_run=.*the guide's data\.name='toy2d:checkerboard' is not this run's", trained)
  refused(capsys, launch_sample.main,
          ['--workdir', str(trained), f'--config.sampling.guide_run={trained}',
           '--config.sampling.guide_step=4'],
          r'guide_step=4: .* no checkpoint at that step; steps present: \[3, 6\]', trained)
