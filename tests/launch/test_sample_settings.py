"""launch.sample converts the sampling section to the family's typed settings once per command.

The family's converter (`jaxgen.models.rectified_flow.sampling_settings`) is wrapped with a
counter; calls made while the config is validated (`jaxgen.runtime.config`, which builds the
settings to refuse bad values early) are counted apart. Outside validation, one picture command
and one chunked command each convert exactly once: the sample name, the compile options, the
jit cache and the sampler itself all receive that one value.
"""

import inspect
import os

import pytest

from jaxgen.models import rectified_flow
from launch import sample as launch_sample
from launch import train as launch_train

RF = 'experiments/rectified_flow/toy2d.py:smoke'


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  w = str(tmp_path_factory.mktemp('settings') / 'run')
  assert launch_train.main(['--config', RF, '--workdir', w, '--config.train.steps=2',
                            '--config.train.progress=false',
                            '--config.train.checkpoint_every=2', "--config.eval.metrics=('loss',)",
                            '--config.sampling.num_samples=8', '--config.sampling.steps=2']) == 0
  return w


def _counted(monkeypatch):
  calls = {'validation': 0, 'command': 0}
  convert = rectified_flow.sampling_settings

  def counting(section):
    validating = any(f.filename.endswith(os.path.join('runtime', 'config.py'))
                     for f in inspect.stack())
    calls['validation' if validating else 'command'] += 1
    return convert(section)

  monkeypatch.setattr(rectified_flow, 'sampling_settings', counting)
  return calls


@pytest.mark.parametrize('flags', [[], ['--num', '16', '--chunk', '8']], ids=['picture', 'chunked'])
def test_one_sample_command_converts_the_sampling_section_once(trained, monkeypatch, flags):
  calls = _counted(monkeypatch)
  assert launch_sample.main(['--workdir', trained, '--config.sampling.solver=heun', *flags]) == 0
  assert calls['command'] == 1, calls
  assert calls['validation'] >= 1   # the counter sees the family's converter at all
