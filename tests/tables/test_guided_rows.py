"""Autoguided table rows (`Row.guide`): the guide run is trained before the row, whose sampling
and evaluation get ``sampling.guide_run`` = the guide's workdir of the same seed; a guide of
another family or data is refused at plan time (nothing written), and so are a guide key the
scale lacks and a ``sampling.guide_run`` path in a row."""

import os

import pytest

from jaxgen.runtime import config as cfg
from jaxgen.tables import plan as table_plan
from jaxgen.tables.spec import Column, Row, RunSpec, Scale, Table

TOY = 'experiments/rectified_flow/toy2d.py:smoke'


def _table(rows, runs, seeds=(0,)):
  return Table(name='ag', title='Autoguidance', source='nobody 2026', paper_setting='moons',
               columns=(Column('sliced_wasserstein', 'SW', 'lower'),), rows=rows,
               metrics=('sliced_wasserstein',),
               scales={'smoke': Scale('Toy smoke.', runs, {'eval.num_samples': 16},
                                      seeds=seeds)})


def test_a_guided_row_trains_its_guide_first_and_evaluates_with_it(tmp_path):
  runs = {'big': RunSpec(TOY), 'small': RunSpec(TOY, {'model.score_mlp.width': 16})}
  rows = (Row('plain', 'big'),
          Row('guided by small', 'big', {'sampling.guide_weight': 2.0}, guide='small'),
          Row('guided by itself', 'big', {'sampling.guide_step': 10}, guide='big'))
  steps = table_plan.plan(_table(rows, runs, seeds=(0, 1)), 'smoke', str(tmp_path))
  names = [(s.kind, s.name) for s in steps]
  assert names.index(('train', 'small seed 1')) < names.index(('evaluate', 'guided by small seed 1'))
  by_name = {s.name: s.argv for s in steps}
  for seed in (0, 1):
    small = f'--config.sampling.guide_run={tmp_path}/smoke/small/seed{seed}'
    big = f'--config.sampling.guide_run={tmp_path}/smoke/big/seed{seed}'
    assert small in by_name[f'guided by small seed {seed}']
    assert big in by_name[f'guided by itself seed {seed}']
    assert '--config.sampling.guide_step=10' in by_name[f'guided by itself seed {seed}']
    assert not any('guide_run' in a for a in by_name[f'plain seed {seed}'])
  assert not os.listdir(tmp_path)   # planning writes nothing


@pytest.mark.parametrize('guide, pattern', [
    (RunSpec('experiments/score_sde/toy2d.py:smoke'),
     r"row 'r', guide='g' is a score_sde run; a rectified_flow run is guided"),
    (RunSpec(TOY, {'data.name': 'toy2d:checkerboard'}),
     r"row 'r', guide='g': the guide's data\.name='toy2d:checkerboard' is not this run's"),
])
def test_a_guide_of_another_family_or_data_is_refused_at_plan_time(tmp_path, guide, pattern):
  table = _table((Row('r', 'a', guide='g'),), {'a': RunSpec(TOY), 'g': guide})
  with pytest.raises(cfg.ConfigError, match=pattern):
    table_plan.plan(table, 'smoke', str(tmp_path))
  assert not os.listdir(tmp_path)


def test_a_guide_key_the_scale_lacks_or_a_guide_path_in_a_row_is_refused():
  with pytest.raises(ValueError, match="is guided by run 'nope', which scale 'smoke'"):
    _table((Row('r', 'a', guide='nope'),), {'a': RunSpec(TOY)})
  with pytest.raises(ValueError, match=r'name the guide run by its key: Row\(\.\.\., guide=KEY\)'):
    Row('r', 'a', {'sampling.guide_run': '/runs/x'})
