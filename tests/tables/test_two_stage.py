"""A table's two-stage runs (`jaxgen.tables.two_stage`): a prior with ``codes_from`` plans as VQ-VAE
training -> ``launch.encode_codes`` -> the prior's training on those codes -> its rows evaluated by
``launch.two_stage``; finished steps are recognised from the files they leave, a VQ-VAE trained
on since its codes were made is encoded again (``--force``) and its prior is then not done, and a
codes source that the scale does not define is refused."""

import json
import os

import pytest

from jaxgen.runtime import workdir as workdir_lib
from jaxgen.tables import plan as table_plan
from jaxgen.tables.spec import Column, Row, RunSpec, Scale, Table

VQVAE = 'experiments/vqvae/fashion_mnist.py:smoke'    # train.steps 4
PRIOR = 'experiments/vqvae/fashion_prior.py:smoke'    # train.steps 4


def _table(runs=None):
  runs = runs or {'vq': RunSpec(VQVAE), 'prior': RunSpec(PRIOR, codes_from='vq')}
  return Table(name='two', title='Two stages', source='nobody 2026', paper_setting='',
               columns=(Column('fd', 'FD', 'lower'), Column('usage', 'usage', 'higher')),
               rows=(Row('two-stage', 'prior', metrics=('fd',)),),
               scales={'smoke': Scale('Smoke.', runs, {'eval.num_samples': 16})})


def test_a_codes_source_the_scale_lacks_is_refused():
  with pytest.raises(ValueError, match="takes codes from 'nope'"):
    _table({'vq': RunSpec(VQVAE), 'prior': RunSpec(PRIOR, codes_from='nope')})
  with pytest.raises(ValueError, match='pairs or on codes, not both'):
    RunSpec(PRIOR, codes_from='vq', pairs_from='vq', num_pairs=8)


def test_plan_trains_the_vqvae_encodes_trains_the_prior_then_evaluates_two_stage(tmp_path):
  steps = table_plan.plan(_table(), 'smoke', str(tmp_path))
  vq, prior = f'{tmp_path}/smoke/vq/seed0', f'{tmp_path}/smoke/prior/seed0'
  assert [(s.kind, s.name) for s in steps] == [
      ('train', 'vq seed 0'), ('codes', 'vq seed 0'), ('train', 'prior seed 0'),
      ('evaluate', 'two-stage seed 0')]   # no real-data floor: the prior's data are codes
  assert steps[1].argv == ('-m', 'launch.encode_codes', '--workdir', vq)
  assert f'--config.data.name=codes:{vq}/codes' in steps[2].argv
  out = table_plan.row_file(str(tmp_path), 'smoke', 'two', 'two-stage')
  assert steps[3].argv == ('-m', 'launch.two_stage', '--workdir', prior, '--out', out,
                           '--metrics', 'fd', '--config.eval.num_samples=16')
  assert not any(s.done for s in steps)


def _finish(tmp_path, monkeypatch, vq_step=4, source_step=4, prior_digest='abc'):
  """The files a finished build leaves: both runs at step 4 (`vq_step` for the VQ-VAE), codes
  encoded at `source_step` with digest 'abc', a prior trained on `prior_digest`, its row file."""
  vq, prior = f'{tmp_path}/smoke/vq/seed0', f'{tmp_path}/smoke/prior/seed0'
  latest = {vq: vq_step, prior: 4}
  monkeypatch.setattr(workdir_lib, 'latest_step', latest.get)
  for path, name, content in ((vq, 'config.json', {}), (prior, 'config.json', {}),
                              (f'{vq}/codes', 'index.json',
                               {'plan': {'source_step': source_step}, 'digest': 'abc'}),
                              (prior, 'data.json', {'codes_dir': f'{vq}/codes',
                                                    'codes_digest': prior_digest})):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, name), 'w') as f:
      json.dump(content, f)
  evaluate = table_plan.plan(_table(), 'smoke', str(tmp_path))[-1]
  os.makedirs(os.path.dirname(evaluate.out), exist_ok=True)
  with open(evaluate.out, 'w') as f:
    json.dump({'step': 4, 'table_row': {'argv': list(evaluate.argv)}}, f)


def test_finished_steps_are_recognised(tmp_path, monkeypatch):
  _finish(tmp_path, monkeypatch)
  assert all(s.done for s in table_plan.plan(_table(), 'smoke', str(tmp_path)))


def test_a_vqvae_trained_on_since_its_codes_is_encoded_again(tmp_path, monkeypatch):
  _finish(tmp_path, monkeypatch, source_step=2)    # codes of an older checkpoint
  codes, train = table_plan.plan(_table(), 'smoke', str(tmp_path))[1:3]
  assert not codes.done and codes.argv[-1] == '--force'
  assert not train.done    # the prior waits for the new codes (launch.train checks their digest)


def test_a_vqvae_still_training_keeps_its_old_codes_until_it_is_done(tmp_path, monkeypatch):
  _finish(tmp_path, monkeypatch, vq_step=2, source_step=2)   # train.steps is 4
  steps = table_plan.plan(_table(), 'smoke', str(tmp_path))
  assert [s.done for s in steps[:3]] == [False, False, False] and steps[1].argv[-1] == '--force'


def test_a_prior_trained_on_other_codes_is_not_done(tmp_path, monkeypatch):
  _finish(tmp_path, monkeypatch, prior_digest='old')
  codes, train = table_plan.plan(_table(), 'smoke', str(tmp_path))[1:3]
  assert codes.done and not train.done
