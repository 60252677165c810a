"""What a column holds (`jaxgen.tables.columns`, `table_plan.check_sample_counts`): the header
names the sample count and reference of its values; a column refuses two sample counts (at plan
time from the rows' eval.num_samples, at report time from the evaluations' records) and an nll
column refuses discrete masses beside densities; the Evaluators line lists every row's
evaluator, not the last row's; launch.table turns a refusal into one error line, exit 2."""

import json
import os

import pytest

from jaxgen.runtime import config as cfg
from jaxgen.tables import plan as table_plan
from jaxgen.tables import report as table_report
from jaxgen.tables.spec import Column, Row, RunSpec, Scale, Table
from launch import table as table_cli

TOY = 'experiments/rectified_flow/toy2d.py:smoke'
EXACT = 'exact discrete likelihood, 17 levels, data range [0, 16], 1 draw(s)'
BOUND = 'uniformly dequantized (bound), 17 levels, data range [0, 1], 1 draw(s)'


def _table(rows, columns=(Column('sliced_wasserstein', 'SW', 'lower'),)):
  return Table(name='toy', title='Toy', source='-', paper_setting='-', columns=columns, rows=rows,
               metrics=('sliced_wasserstein',),
               scales={'smoke': Scale('x', {'a': RunSpec(TOY)}, {'eval.num_samples': 16})})


def _write(runs, table, label, record):
  out = table_plan.row_file(runs, 'smoke', table.name, label)
  os.makedirs(os.path.dirname(out), exist_ok=True)
  with open(out, 'w') as f:
    json.dump(record, f)


def _measured(n, value=0.5):
  return {'step': 4, 'eval/sliced_wasserstein': value, 'provenance': {
      'measured': {'sliced_wasserstein': {'samples': n, 'reference': f'moons eval-{n}'}}}}


def test_a_column_refuses_mixed_sample_counts_at_plan_time(tmp_path):
  t = _table((Row('few', 'a', {'eval.num_samples': 8}), Row('many', 'a')))
  with pytest.raises(cfg.ConfigError, match=r"column 'sliced_wasserstein': row 'few' draws "
                                            r'eval.num_samples=8 and row .many. 16'):
    table_plan.plan(t, 'smoke', str(tmp_path))
  # a column of no metric the rows draw samples for does not count them
  table_plan.plan(_table((Row('few', 'a', {'eval.num_samples': 8}), Row('many', 'a')),
                         columns=(Column('nfe', 'NFE'),)), 'smoke', str(tmp_path))
  assert not os.listdir(tmp_path)


def test_a_column_refuses_mixed_sample_counts_at_report_time(tmp_path, capsys):
  """Rows evaluated before a change of eval.num_samples: the report names both."""
  t = _table((Row('one', 'a'), Row('two', 'a')))
  _write(str(tmp_path), t, 'one', _measured(16))
  md = table_report.markdown(t, 'smoke', str(tmp_path), 'x')
  assert '| row | SW [sliced_wasserstein@16 vs moons eval-16] (lower better) |' in md
  _write(str(tmp_path), t, 'two', _measured(8))
  with pytest.raises(cfg.ConfigError, match=r"row 'one' was evaluated on 16 samples and row "
                                            r"'two' on 8; one column holds one sample count"):
    table_report.write(t, 'smoke', str(tmp_path), str(tmp_path / 'out'), 'x')
  assert not os.path.exists(tmp_path / 'out')
  path = tmp_path / 'toy.py'
  path.write_text('from jaxgen.tables.spec import *\n'
                  f'def get_table():\n  return Table(name="toy", title="T", source="-", '
                  'paper_setting="-", columns=(Column("sliced_wasserstein", "SW", "lower"),), '
                  'rows=(Row("one", "a"), Row("two", "a")), metrics=("sliced_wasserstein",), '
                  f'scales={{"smoke": Scale("x", {{"a": RunSpec("{TOY}")}}, '
                  '{"eval.num_samples": 16})})\n')
  assert table_cli.main([str(path), '--scale', 'smoke', '--runs', str(tmp_path),
                         '--report-only']) == 2
  err = capsys.readouterr().err
  assert err.startswith('error: ') and err.count('\n') == 1 and 'one sample count' in err


def test_nll_column_refuses_discrete_beside_density(tmp_path):
  t = _table((Row('pixelcnn', 'a'), Row('nice', 'a')),
             columns=(Column('nll', 'NLL', 'lower'), Column('bpd', 'bits/dim', 'lower')))
  for label, ident in (('pixelcnn', EXACT), ('nice', BOUND)):
    _write(str(tmp_path), t, label, {'eval/nll': 90.0, 'eval/bpd': 2.5,
                                     'provenance': {'evaluators': {'likelihood': ident}}})
  with pytest.raises(cfg.ConfigError, match="column 'nll': row 'pixelcnn' has a discrete "
                                            "likelihood .* row 'nice' a density"):
    table_report.markdown(t, 'smoke', str(tmp_path), 'x')
  bpd_only = _table(t.rows, columns=(Column('bpd', 'bits/dim', 'lower'),
                                     Column('likelihood', 'likelihood')))
  md = table_report.markdown(bpd_only, 'smoke', str(tmp_path), 'x')
  assert '| pixelcnn | 2.500 | exact discrete likelihood |' in md
  assert '| nice | 2.500 | uniformly dequantized (bound) |' in md


def test_evaluators_line_lists_every_rows_evaluator(tmp_path):
  t = _table((Row('pixelcnn', 'a'), Row('gated', 'a'), Row('nice', 'a')),
             columns=(Column('bpd', 'bits/dim', 'lower'),))
  for label, ident in (('pixelcnn', EXACT), ('gated', EXACT), ('nice', BOUND)):
    _write(str(tmp_path), t, label, {'eval/bpd': 2.5, 'provenance': {
        'evaluators': {'likelihood': ident}}})
  md = table_report.markdown(t, 'smoke', str(tmp_path), 'x')
  line = next(l for l in md.splitlines() if l.startswith('Evaluators: '))
  assert f'likelihood: {EXACT} (rows pixelcnn, gated)' in line
  assert f'likelihood: {BOUND} (rows nice)' in line
  assert '- nice: run `a`' in md and 'likelihood: uniformly dequantized (bound)' in md
