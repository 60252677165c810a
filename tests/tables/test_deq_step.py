"""A table run with post-hoc variational dequantization (`RunSpec.deq`): its ``deq`` step
(``launch.train_deq ... --evaluate 0``) comes after the run's training and before the rows that
read it, per seed; it is done when q's newest checkpoint reaches its steps; a ``bpd_vdeq`` row on
a run without a q is refused before anything runs; a row's ``reads`` shows another metric of its
evaluation (the variational bound) in a column, where claims compare it with other rows."""

import json
import os

import pytest

from jaxgen.runtime import config as cfg
from jaxgen.tables import plan as table_plan
from jaxgen.tables import report as table_report
from jaxgen.tables.spec import Claim, Column, Compare, Row, RunSpec, Scale, Table

RF = 'experiments/rectified_flow/digits.py:smoke'
DEQ = {'steps': 3, 'batch_size': 8, 'solver': 'euler'}
VDEQ = {'metrics': ('bpd_vdeq',), 'reads': {'bpd': 'bpd_vdeq'}}


def _table(runs=None, rows=None, seeds=(0,), claims=()):
  runs = runs or {'rf': RunSpec(RF, deq=DEQ)}
  rows = rows or (Row('uniform', 'rf'), Row('variational', 'rf', **VDEQ))
  return Table(name='deq', title='Deq', source='nobody', paper_setting='',
               columns=(Column('bpd', 'bits/dim', 'lower'),), rows=rows, metrics=('bpd',),
               claims=claims, scales={'smoke': Scale('Deq smoke.', runs, seeds=seeds)})


def test_the_deq_step_follows_training_and_precedes_the_rows(tmp_path):
  steps = table_plan.plan(_table(seeds=(0, 1)), 'smoke', str(tmp_path))
  assert [(s.kind, s.name) for s in steps] == [
      ('train', 'rf seed 0'), ('deq', 'rf seed 0'), ('train', 'rf seed 1'), ('deq', 'rf seed 1'),
      ('evaluate', 'uniform seed 0'), ('evaluate', 'variational seed 0'),
      ('evaluate', 'uniform seed 1'), ('evaluate', 'variational seed 1')]
  deq = steps[1].argv
  assert deq == ('-m', 'launch.train_deq', '--workdir', f'{tmp_path}/smoke/rf/seed0',
                 '--steps', '3', '--batch_size', '8', '--solver', 'euler', '--evaluate', '0')
  assert "--config.eval.metrics=('bpd_vdeq',)" in steps[5].argv
  assert not any(s.done for s in steps)


def test_the_deq_step_is_done_when_q_reaches_its_steps(tmp_path, monkeypatch):
  q_steps = {}
  monkeypatch.setattr(table_plan.workdir_lib, 'latest_step',
                      lambda p: q_steps.get(os.path.basename(p)))
  for at, done in ((None, False), (2, False), (3, True), (5, True)):
    q_steps['dequantizer'] = at
    deq = table_plan.plan(_table(), 'smoke', str(tmp_path))[1]
    assert deq.kind == 'deq' and deq.done == done, at


def test_a_variational_row_without_a_q_is_refused_before_anything_runs(tmp_path):
  with pytest.raises(cfg.ConfigError, match=r"row 'variational'.*run 'rf' has none.*RunSpec deq"):
    table_plan.plan(_table(runs={'rf': RunSpec(RF)}), 'smoke', str(tmp_path))
  assert not os.listdir(tmp_path)
  with pytest.raises(ValueError, match="deq names launch.train_deq's steps"):
    RunSpec(RF, deq={'batch_size': 8})
  with pytest.raises(ValueError, match=r"reads for \['bpd_vdeq'\], which are no columns"):
    _table(rows=(Row('r', 'rf', reads={'bpd_vdeq': 'bpd'}),))


def test_a_row_reads_its_bound_into_the_column_and_claims_compare_it(tmp_path):
  """The variational row's bpd_vdeq fills its bits/dim cell (its eval/bpd is not read), and the
  claim variational < uniform is judged on the per-example paired differences."""
  claim = Claim('v < u', (Compare('variational', 'uniform', 'bpd'),))
  table = _table(claims=(claim,))
  rows = {'uniform': {'eval/bpd': 2.0, 'examples': {'bpd': [2.1, 1.9, 2.0, 2.0]}},
          'variational': {'eval/bpd': 9.0, 'eval/bpd_vdeq': 1.5,
                          'examples': {'bpd_vdeq': [1.6, 1.4, 1.5, 1.5]}}}
  for label, record in rows.items():
    out = table_plan.row_file(str(tmp_path), 'smoke', 'deq', label)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, 'w') as f:
      json.dump({'step': 4, **record}, f)
  res = table_report.results(table, 'smoke', str(tmp_path))
  assert res['variational']['bpd'] == 1.5 and res['uniform']['bpd'] == 2.0
  text = table_report.markdown(table, 'smoke', str(tmp_path), 'cmd')
  assert '**agrees**: v < u' in text
