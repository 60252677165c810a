"""``launch.evaluate`` with autoguidance (``sampling.guide_run``, `jaxgen.tools.guide_run`): a
smoke digits run guided by its own earlier checkpoint is evaluated on its guided samples (FD
reported, twice the NFE, the guide's workdir, step and weight in the provenance); a guide run of
another data or another family is refused in one line, exit 2, nothing written."""

import json
import os

import numpy as np
import pytest

from jaxgen.runtime import config as cfg
from jaxgen.runtime import loop
from jaxgen.runtime import overrides
from jaxgen.runtime import workdir as workdir_lib
from launch import evaluate as launch_evaluate
from tests.refusal import refused

EXP = 'experiments/rectified_flow/digits.py:smoke'   # 4 steps, checkpoints at 2 and 4
EVAL = ["--config.eval.metrics=('fd',)", '--config.eval.num_samples=16']


def _config(exp, **over):
  return cfg.validate(overrides.apply(cfg.load(exp), over))


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('evaluate_autoguided') / 'run'
  loop.train(_config(EXP, **{'eval.metrics': "('loss',)"}), str(workdir))
  assert workdir_lib.checkpoint_steps(str(workdir)) == [2, 4]
  return workdir


def test_evaluate_guided_by_an_earlier_checkpoint_reports_fd(trained, tmp_path):
  wd, out = str(trained), tmp_path / 'ag.json'
  assert launch_evaluate.main(['--workdir', wd, '--out', str(out), *EVAL,
                               f'--config.sampling.guide_run={wd}',
                               '--config.sampling.guide_step=2',
                               '--config.sampling.guide_weight=2.5']) == 0
  got = json.loads(out.read_text())
  assert got['step'] == 4 and np.isfinite(got['eval/fd']) and got['eval/fd'] > 0
  steps = _config(EXP).sampling.steps   # Euler: one evaluation per step, two when guided
  assert got['eval/nfe'] == 2 * steps == got['provenance']['nfe']
  assert got['provenance']['guide'] == {'run': os.path.abspath(wd), 'step': 2, 'weight': 2.5}
  assert got['provenance']['sampling']['guide_run'] == wd


@pytest.mark.parametrize('exp, pattern', [
    ('experiments/rectified_flow/toy2d.py:smoke',
     r"guide_run=.*: the guide's data\.name='toy2d:moons' is not this run's data\.name='digits'"),
    ('experiments/score_sde/digits.py:smoke',
     r'guide_run=.* is a score_sde run; a rectified_flow run is guided by a run of its own'),
])
def test_a_guide_of_other_data_or_family_is_refused(trained, tmp_path, capsys, exp, pattern):
  other = tmp_path / 'other'
  os.makedirs(other)
  workdir_lib.write_config(str(other), _config(exp))
  refused(capsys, launch_evaluate.main,
          ['--workdir', str(trained), *EVAL, f'--config.sampling.guide_run={other}'],
          pattern, trained)
