"""Every table file under experiments/tables/ plans at each of its scales (every run's config and
every row's evaluation overrides validate; nothing is written), and builds at smoke scale with
``python -m launch.table FILE --scale smoke``, with its repeats (2 training seeds x 2 evaluation keys): its
runs train once per seed (tables share them: one runs folder for this module), every row is
evaluated on each seed's run (sampling rows with both keys), and the Markdown report has a
number of ours with its 95% interval over the 2 seeds in every row, the verdict rule once, and
the paper's numbers in their own columns; a second build finds every step done. Bad input to
the command is one line and exit 2; ``--scale paper`` on a CPU prints its plan and writes
nothing. The default suite builds the two tables that cover the driver's paths between them
(exact likelihood rows; sampling rows with two keys, the real-data floor and paired claims); every
other table's smoke build is a `slow` check (``bash launch/test.sh -m slow tests/experiments``)."""

import glob
import os
import re
import shlex

import pytest

from jaxgen.metrics import intervals
from jaxgen.tables import cells as table_cells
from jaxgen.tables import plan as table_plan
from launch import table as table_cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TABLES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, 'experiments',
                                                                          'tables', '*.py'))
                if not os.path.basename(p).startswith(('_', 'runs', 'references',
                                                       'pc_exact_score')))

pytestmark = pytest.mark.xdist_group('tables')   # one worker: the smoke runs are shared


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
  return str(tmp_path_factory.mktemp('table_runs'))


def test_the_seven_tables_exist():
  assert TABLES == ['autoregressive_flow_nll', 'binarized_likelihood', 'ddim_steps',
                    'fashion_likelihood', 'few_step_nfe', 'rectified_flow_reflow',
                    'score_sde_likelihood', 'score_sde_samplers', 'score_sde_snr',
                    'vqvae_two_stage']


# Built in the default suite: exact likelihoods (autoregressive_flow_nll) and sampling rows with
# the floor and paired claims (score_sde_snr). The rest differ in their rows, not in the driver.
DEFAULT_BUILDS = ('autoregressive_flow_nll', 'score_sde_snr')


@pytest.mark.parametrize('name', TABLES)
def test_table_plans_at_every_scale(name, tmp_path, capsys):
  path = os.path.join(ROOT, 'experiments', 'tables', name + '.py')
  table = table_cli.load_table(path)
  for scale in table.scales:
    assert table_cli.main([path, '--scale', scale, '--runs', str(tmp_path), '--dry-run']) == 0, scale
    out = capsys.readouterr().out
    assert 'launch.train --config' in out and 'launch.evaluate' in out, (scale, out[-2000:])
  assert not os.listdir(tmp_path)


@pytest.mark.parametrize('name', [pytest.param(n, marks=() if n in DEFAULT_BUILDS
                                               else pytest.mark.slow) for n in TABLES])
def test_table_builds_at_smoke_scale(name, runs, capsys):
  path = os.path.join(ROOT, 'experiments', 'tables', name + '.py')
  assert table_cli.main([path, '--scale', 'smoke', '--runs', runs]) == 0
  table = table_cli.load_table(path)
  md = open(os.path.join(runs, 'smoke', f'{name}_smoke.md')).read()
  assert 'NOT EVALUATED' not in md
  assert md.count(intervals.RULE) == 1
  lines = [l for l in md.splitlines() if l.startswith('| ')]
  rows = table.rows_at('smoke')
  first = table.columns[0]
  likelihood = first.key in ('bpd', 'nll')
  # a table of sample metrics ends with the real-data floor, measured at the rows' sample count
  floor = [l for l in lines if l.startswith(f'| {table_plan.FLOOR} |')]
  sampled = bool(table_plan.floor_steps(table, 'smoke', runs))
  assert len(floor) == sampled and len(lines) == 1 + len(rows) + len(floor)
  if sampled:
    assert '(10 draws of training examples)' in floor[0], floor[0]
  if not likelihood:   # a sample-quality column names its sample count and reference
    assert re.search(rf'{first.key}@\d+ vs \w+ (eval|train)-', lines[0]), lines[0]
  for row, line in zip(rows, lines[1:]):
    cells = [c.strip() for c in line.strip('|').split('|')]
    assert cells[0] == row.label
    assert cells[1] not in ('-', ''), f'{name}: row {row.label!r} has no {first.key}'
    float(cells[1].split()[0].replace(',', ''))
    assert '± ' in cells[1] and '(2 training seeds)' in cells[1], cells[1]
    if likelihood:   # per-example values: the standard error over the test images
      assert 'test examples' in cells[1], cells[1]
    keys = table_plan.samples_keys(table, 'smoke', row)   # (0, 1) for sampling rows, else (0,)
    assert keys == ((0, 1) if table_plan.sampling_metrics(row.metrics or table.metrics) else (0,))
    for seed in (0, 1):
      record = table_plan.read_row(table_plan.row_file(runs, 'smoke', name, row.label, seed))
      assert record['provenance']['seed'] == seed
      assert tuple(r['key'] for r in table_cells.repeats(record)) == keys
  at_smoke = {r.label for r in rows}
  if any(c.a in at_smoke and c.b in at_smoke for claim in table.claims for c in claim.compares):
    # a comparison of two smoke rows is judged on the interval of its paired differences
    assert 'n=2 training seeds)' in md.split("## The paper's claims")[1]
  assert os.path.exists(os.path.join(runs, 'smoke', f'{name}_smoke.csv'))
  capsys.readouterr()
  assert table_cli.main([path, '--scale', 'smoke', '--runs', runs, '--dry-run']) == 0
  out = capsys.readouterr().out
  assert out.count('todo') == 0 and out.count('done') > 0   # a rebuild has nothing to do


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
  assert table_cli.main([str(tmp_path / 'nope.py'), '--scale', 'smoke']) == 2
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and 'table file' in err and 'does not exist' in err
  bad = tmp_path / 'bad.py'
  bad.write_text('def get_table():\n  return 3\n')
  assert table_cli.main([str(bad), '--scale', 'smoke', '--runs', str(tmp_path / 'r')]) == 2
  assert 'not a jaxgen.tables.spec.Table' in capsys.readouterr().err
  path = os.path.join(ROOT, 'experiments', 'tables', 'fashion_likelihood.py')
  assert table_cli.main([path, '--scale', 'paper', '--runs', str(tmp_path / 'r')]) == 2
  assert 'defines scales smoke, laptop' in capsys.readouterr().err
  assert not os.path.exists(tmp_path / 'r')


def test_paper_scale_on_a_cpu_prints_the_plan(tmp_path, capsys):
  path = os.path.join(ROOT, 'experiments', 'tables', 'rectified_flow_reflow.py')
  assert table_cli.main([path, '--scale', 'paper', '--runs', str(tmp_path)]) == 0
  out = capsys.readouterr().out
  assert 'needs an accelerator' in out
  assert 'launch.train --config' in out and 'rectified_flow/cifar10.py:reflow' in out
  assert 'launch.reflow' in out and '--num 1000000' in out
  metrics = set()
  for line in out.splitlines():
    if line.startswith('todo') and 'launch.evaluate' in line:
      argv = shlex.split(line.split(None, 2)[2])
      metrics.update(a.split('=', 1)[1] for a in argv if a.startswith('--config.eval.metrics='))
  # KID has no Inception version here: the paper scale drops it and renames FD / IS.
  assert metrics == {"('fid', 'inception_score')", "('fid', 'inception_score', 'straightness')"}
  assert not os.listdir(tmp_path)
  # A CIFAR-10 run's folder is named by its family and variant under the scale, not by the
  # laptop data (it once landed in a folder named after the digits run).
  workdirs = {a for line in out.splitlines() if line.startswith('todo')
              for a in shlex.split(line.split(None, 2)[2])[1:] if a.startswith(str(tmp_path))}
  assert workdirs and not any('digits' in w or 'fashion' in w for w in workdirs), workdirs
