"""The table layer (`jaxgen.tables.spec`, `table_plan`, `table_report`, `figure`, `cells`,
`columns`): a table's runs become launch commands in dependency order, once per training seed,
done steps are recognised (and a changed row or a retrained run is not), bad rows are refused
before anything runs, and the report puts our numbers (mean and 95% interval) and the paper's in separate
columns with each claim's rule-based verdict."""

import csv
import io
import json
import os

import pytest

from jaxgen.metrics import intervals
from jaxgen.runtime import config as cfg
from jaxgen.runtime import overrides as overrides_lib
from jaxgen.tables import execute as table_execute
from jaxgen.tables import figure as table_figure
from jaxgen.tables import plan as table_plan
from jaxgen.tables import report as table_report
from jaxgen.tables.spec import Claim, Column, Compare, Plot, Row, RunSpec, Scale, Table

TOY = 'experiments/rectified_flow/toy2d.py:smoke'


def _table(rows=None, runs=None, claims=(), **kw):
  runs = runs or {'a': RunSpec(TOY), 'b': RunSpec(TOY, {'optim.lr': 1e-3})}
  rows = rows or (Row('first', 'a', {'sampling.steps': 3}, paper={'sw': 0.5}),
                  Row('second', 'b', paper={'sw': 0.25}, scale_overrides={'smoke': {'sampling.steps': 2}}))
  return Table(name='toy', title='Toy', source='nobody 2026', paper_setting='moons',
               columns=(Column('sliced_wasserstein', 'SW', 'lower'), Column('sw', 'SW copy'),
                        Column('nfe', 'NFE', '', '.0f')),
               rows=rows, metrics=('sliced_wasserstein',), claims=claims,
               scales={'smoke': Scale('Toy smoke.', runs, {'eval.num_samples': 16})}, **kw)


def test_spec_refuses_inconsistent_tables():
  with pytest.raises(ValueError, match="names run 'zz'"):
    _table(rows=(Row('r', 'zz'),))
  with pytest.raises(ValueError, match='repeat'):
    _table(rows=(Row('r', 'a'), Row('r', 'b')))
  with pytest.raises(ValueError, match='one file name'):   # 'a b' and 'a_b' -> a_b.json
    _table(rows=(Row('a b', 'a'), Row('a_b', 'b')))
  _table(rows=(Row('PixelCNN', 'a'), Row('PixelCNN++', 'b')))   # PixelCNN.json, PixelCNNplusplus.json
  with pytest.raises(ValueError, match='no columns'):
    _table(rows=(Row('r', 'a', paper={'fid': 1.0}),))
  with pytest.raises(ValueError, match="takes pairs from 'nope'"):
    _table(runs={'a': RunSpec(TOY), 'b': RunSpec(TOY, pairs_from='nope', num_pairs=8)})
  with pytest.raises(ValueError, match='go together'):
    RunSpec(TOY, pairs_from='a')
  with pytest.raises(ValueError, match='unknown scales'):
    Row('r', 'a', scales=('huge',))
  with pytest.raises(ValueError, match=r"eval.rng_keys is set by the scale's repeats"):
    Row('r', 'a', scale_overrides={'smoke': {'eval.rng_keys': (0, 1)}})
  with pytest.raises(ValueError, match='step must be'):
    Row('r', 'a', step=-1)
  with pytest.raises(ValueError, match="step must be .*'best'"):
    Row('r', 'a', step='last')
  with pytest.raises(ValueError, match=r"names \['nobody'\]"):
    _table(claims=(Claim('c', (Compare('first', 'nobody', 'sliced_wasserstein'),)),))


@pytest.mark.parametrize('value', [3, 1e-5, True, 'dopri5', ('fd', 'is'), ['bpd']])
def test_override_text_reads_back_as_the_value(value):
  schema = {int: 0, float: 0.0, bool: False, str: '', tuple: (), list: ()}[type(value)]
  back = overrides_lib.parse_value(table_plan.text(value), schema)
  assert back == (tuple(value) if isinstance(value, list) else value)


def test_plan_orders_runs_pairs_and_rows(tmp_path):
  runs = {'rf1': RunSpec(TOY), 'rf2': RunSpec('experiments/rectified_flow/toy2d.py:reflow,smoke',
                                              pairs_from='rf1', num_pairs=64),
          'rf3': RunSpec('experiments/rectified_flow/toy2d.py:reflow3,smoke', pairs_from='rf2',
                         num_pairs=64),
          'dist': RunSpec('experiments/rectified_flow/toy2d.py:distill,smoke', pairs_from='rf2',
                          num_pairs=64)}
  rows = (Row('three', 'rf3'), Row('distilled', 'dist'), Row('one', 'rf1'))
  steps = table_plan.plan(_table(rows=rows, runs=runs), 'smoke', str(tmp_path))
  kinds = [(s.kind, s.name) for s in steps]
  # sources before what trains on them; rf2's pairs made once although two runs read them
  assert kinds == [('train', 'rf1 seed 0'), ('pairs', 'rf1 seed 0'), ('train', 'rf2 seed 0'),
                   ('pairs', 'rf2 seed 0'), ('train', 'rf3 seed 0'), ('train', 'dist seed 0'),
                   ('evaluate', 'three seed 0'), ('evaluate', 'distilled seed 0'),
                   ('evaluate', 'one seed 0'), ('evaluate', 'real data (floor) seed 0')]
  # the floor is measured on the first row's run that trains on real data (not on reflow pairs)
  assert f'{tmp_path}/smoke/rf1/seed0' in steps[-1].argv and '--real-data' in steps[-1].argv
  train_rf2 = steps[2].argv
  assert f'--config.train.init_from={tmp_path}/smoke/rf1/seed0' in train_rf2
  assert steps[1].argv[:5] == ('-m', 'launch.reflow', '--workdir', f'{tmp_path}/smoke/rf1/seed0',
                               '--num')
  assert not any(s.done for s in steps)


def test_a_distilled_run_trains_after_its_teacher_and_reads_its_seeds_workdir(tmp_path):
  """A run with ``teacher_from`` trains after that run, each seed with
  ``loss.teacher_run`` = the teacher's workdir of the same seed; an unknown key is refused."""
  runs = {'cd': RunSpec('experiments/consistency/fashion_mnist.py:cd,smoke',
                        teacher_from='sde'),
          'sde': RunSpec('experiments/score_sde/fashion_mnist.py:smoke')}
  t = Table(name='toy', title='Toy', source='-', paper_setting='-',
            columns=(Column('sliced_wasserstein', 'SW', 'lower'),), rows=(Row('cd', 'cd'),),
            metrics=('sliced_wasserstein',),
            scales={'smoke': Scale('x', runs, seeds=(0, 1))})
  steps = table_plan.plan(t, 'smoke', str(tmp_path))
  assert [(s.kind, s.name) for s in steps if s.kind == 'train'] == [
      ('train', 'sde seed 0'), ('train', 'cd seed 0'), ('train', 'sde seed 1'),
      ('train', 'cd seed 1')]
  for seed in (0, 1):
    train_cd = next(s for s in steps if s.name == f'cd seed {seed}' and s.kind == 'train')
    assert f'--config.loss.teacher_run={tmp_path}/smoke/sde/seed{seed}' in train_cd.argv
  with pytest.raises(ValueError, match="run 'cd' distils 'nope'"):
    _table(runs={'a': RunSpec(TOY), 'b': RunSpec(TOY), 'cd': RunSpec(TOY, teacher_from='nope')})


def test_evaluation_overrides_scale_then_row_then_row_at_scale():
  t = _table()
  first, second = t.rows
  assert table_plan.evaluation_overrides(t, 'smoke', first) == {
      'eval.num_samples': 16, 'sampling.steps': 3, 'eval.metrics': ('sliced_wasserstein',),
      'eval.rng_keys': (0,)}
  assert table_plan.evaluation_overrides(t, 'smoke', second)['sampling.steps'] == 2


def test_bad_rows_are_refused_at_plan_time(tmp_path):
  with pytest.raises(cfg.ConfigError, match=r"row 'r'.*only sampling"):
    table_plan.plan(_table(rows=(Row('r', 'a', {'model.hidden': 8}),)), 'smoke', str(tmp_path))
  with pytest.raises(cfg.ConfigError, match=r"row 'r'.*sampling\.stepz"):
    table_plan.plan(_table(rows=(Row('r', 'a', {'sampling.stepz': 8}),)), 'smoke', str(tmp_path))
  with pytest.raises(cfg.ConfigError, match='scales smoke'):
    table_plan.plan(_table(), 'laptop', str(tmp_path))
  with pytest.raises(cfg.ConfigError, match=r"row 'r'.*unknown metric 'sliced_wasserstien'"):
    table_plan.plan(_table(rows=(Row('r', 'a', metrics=('sliced_wasserstien',)),)), 'smoke',
                    str(tmp_path))
  assert not os.listdir(tmp_path)   # nothing written


def test_done_steps_are_recognised_and_changes_are_not(tmp_path, monkeypatch):
  t = _table()
  steps = table_plan.plan(t, 'smoke', str(tmp_path))
  row = steps[-2]
  monkeypatch.setattr(table_plan.workdir_lib, 'latest_step', lambda p: 20)
  monkeypatch.setattr(table_plan.paths, 'exists', lambda p: True)
  os.makedirs(os.path.dirname(row.out))
  with open(row.out, 'w') as f:
    json.dump({'step': 20, 'eval/sliced_wasserstein': 0.3,
               'table_row': {'argv': list(row.argv)}}, f)
  again = table_plan.plan(t, 'smoke', str(tmp_path))
  # toy smoke: 20 training steps; row 'first' and the floor not evaluated
  assert [s.done for s in again] == [True, True, False, True, False]
  # a retrained run (newer checkpoint) or a changed row is evaluated again
  monkeypatch.setattr(table_plan.workdir_lib, 'latest_step', lambda p: 40)
  assert not table_plan.plan(t, 'smoke', str(tmp_path))[-2].done
  monkeypatch.setattr(table_plan.workdir_lib, 'latest_step', lambda p: 20)
  changed = _table(rows=(t.rows[0], Row('second', 'b', {'sampling.steps': 9})))
  assert not table_plan.plan(changed, 'smoke', str(tmp_path))[-2].done


def _write_row(tmp_path, table, label, record):
  out = table_plan.row_file(str(tmp_path), 'smoke', table.name, label)
  os.makedirs(os.path.dirname(out), exist_ok=True)
  with open(out, 'w') as f:
    json.dump(record, f)


def test_report_keeps_ours_and_the_papers_apart_and_checks_claims(tmp_path):
  better = Claim('second beats first', (Compare('second', 'first', 'sliced_wasserstein'),))
  t = _table(claims=(better,))
  md = table_report.markdown(t, 'smoke', str(tmp_path), 'python -m launch.table x')
  assert '**not measured**: second beats first' in md and 'NOT EVALUATED YET' in md
  _write_row(tmp_path, t, 'first', {'step': 4, 'eval/sliced_wasserstein': 0.4,
                                    'provenance': {'seed': 7, 'step': 4, 'nfe': 3.0,
                                                   'sampler': 'euler', 'evaluators': {}}})
  _write_row(tmp_path, t, 'second', {'step': 4, 'eval/sliced_wasserstein': 0.2,
                                     'provenance': {'seed': 7, 'step': 4, 'evaluators': {
                                         'features': 'x.npz (sha256 abc)'}}})
  md = table_report.markdown(t, 'smoke', str(tmp_path), 'python -m launch.table x')
  table_lines = [l for l in md.splitlines() if l.startswith('| ')]
  assert table_lines[0] == ('| row | SW (lower better) | SW copy | NFE | SW copy (paper) |')
  assert table_lines[1] == '| first | 0.400 | - | 3 | 0.500 |'   # 'sw' is no result of ours
  assert table_lines[2] == '| second | 0.200 | - | - | 0.250 |'
  # one draw per row: no interval, so no verdict either way
  assert '**not resolved**: second beats first' in md and 'one draw, no interval' in md
  assert 'features: x.npz (sha256 abc) (rows second)' in md
  assert 'seeds 0 (step 4), sampler euler (NFE 3)' in md
  rows = list(csv.DictReader(io.StringIO(table_report.csv_text(t, 'smoke', str(tmp_path)))))
  assert rows[0]['sliced_wasserstein'] == '0.4' and rows[0]['paper_sw'] == '0.5'
  assert rows[1]['paper_sliced_wasserstein'] == '' and rows[0]['seed'] == '7'
  # a table without the paper's numbers says so instead of pointing at empty columns
  alone = _table(rows=(Row('first', 'a', {'sampling.steps': 3}), Row('second', 'b')))
  md = table_report.markdown(alone, 'smoke', str(tmp_path), 'python -m launch.table x')
  assert 'Every number here is ours.' in md and 'columns marked' not in md
  assert '(paper)' not in md


def test_plot_draws_one_curve_per_series_in_increasing_x(tmp_path):
  rows = (Row('a-many', 'a', {'sampling.steps': 3}, series='a'), Row('a-one', 'a', series='a'),
          Row('b-one', 'b', series='b'), Row('unmeasured', 'b', series='c'),
          Row('alone', 'b'))
  t = _table(rows=rows, plot=Plot('nfe', 'sliced_wasserstein', logx=True, logy=True))
  for label, nfe, sw in (('a-many', 30, 0.2), ('a-one', 1, 2.0), ('b-one', 1, 0.5),
                         ('alone', 1, 0.1)):
    _write_row(tmp_path, t, label, {'eval/sliced_wasserstein': sw, 'eval/nfe': nfe})
  # rows without a series, or with a value missing, draw nothing; one draw: no error bar
  res = table_report.results(t, 'smoke', str(tmp_path))
  assert table_figure.curves(t, 'smoke', res) == {
      'a': [(1, 2.0, 2.0, 2.0), (30, 0.2, 0.2, 0.2)], 'b': [(1, 0.5, 0.5, 0.5)]}
  out = table_figure.plot(t, 'smoke', res, None, str(tmp_path / 'p.png'))
  assert out is None or open(out, 'rb').read(8) == b'\x89PNG\r\n\x1a\n'
  assert table_figure.plot(_table(), 'smoke', res, None, str(tmp_path / 'q.png')) is None


def test_inception_rows_at_a_scale_with_samples_read_a_chunk_folder(tmp_path):
  """A scale with samples=N: a row measuring fid first draws N samples as a resumable chunk
  folder with the row's sampling overrides, and its evaluation reads that folder with the
  given Inception weights; rows without Inception metrics draw nothing."""
  runs = {'a': RunSpec(TOY)}
  rows = (Row('fid row', 'a', {'sampling.steps': 3}, metrics=('fid',)), Row('sw row', 'a'))
  t = Table(name='toy', title='Toy', source='-', paper_setting='-',
            columns=(Column('fid', 'FID', 'lower'),), rows=rows,
            metrics=('sliced_wasserstein',),
            scales={'paper': Scale('x', runs, {'eval.num_samples': 100}, samples=100)})
  steps = table_plan.plan(t, 'paper', str(tmp_path), {'eval.inception_weights': 'w.npz'})
  assert [(s.kind, s.name) for s in steps] == [
      ('train', 'a seed 0'), ('sample', 'fid row seed 0'), ('evaluate', 'fid row seed 0'),
      ('evaluate', 'sw row seed 0'), ('evaluate', 'real data (floor) seed 0')]
  assert '--config.eval.inception_weights=w.npz' in steps[-1].argv
  folder = f'{tmp_path}/paper/a/seed0/samples/toy_fid_row'
  assert steps[1].argv == ('-m', 'launch.sample', '--workdir', f'{tmp_path}/paper/a/seed0',
                           '--num', '100', '--name', 'toy_fid_row', '--config.sampling.steps=3')
  assert f'--config.eval.samples_dir={folder}' in steps[2].argv
  assert '--config.eval.inception_weights=w.npz' in steps[2].argv
  assert not any(a.startswith(('--config.eval.samples_dir', '--config.eval.inception'))
                 for a in steps[3].argv)


def test_training_columns_and_time_come_from_metrics_jsonl(tmp_path):
  """``train/<k>`` is the last value of k that training logged (evaluation lines ignored), and
  the training time is the sum over log intervals of steps / steps_per_sec."""
  w = tmp_path / 'run'
  w.mkdir()
  lines = [{'step': 100, 'bpd': 3.0, 'steps_per_sec': 10.0},
           {'step': 200, 'bpd': 2.5, 'steps_per_sec': 50.0},
           {'step': 200, 'eval/bpd': 2.9, 'bpd': 9.9}]
  (w / 'metrics.jsonl').write_text(''.join(json.dumps(l) + '\n' for l in lines))
  assert table_report.last_logged(str(w), 'bpd') == 2.5
  assert table_report.training_seconds(str(w)) == pytest.approx(100 / 10 + 100 / 50)
  assert table_report.value(None, 'train/bpd', None, str(w)) == 2.5


def test_training_minutes_column_reads_each_seeds_recorded_training_time(tmp_path):
  """A ``training_minutes`` column holds, per row, each training seed's run's training wall time
  from its metrics.jsonl (steps / steps_per_sec summed over log intervals) in minutes, and their
  mean; a seed not trained yet has none."""
  runs = {'a': RunSpec(TOY)}
  t = Table(name='toy', title='Toy', source='-', paper_setting='-',
            columns=(Column('training_minutes', 'training min', '', '.1f'),),
            rows=(Row('r', 'a'),), metrics=('sliced_wasserstein',),
            scales={'smoke': Scale('x', runs, seeds=(0, 1, 2))})
  for seed, sps in ((0, 1.0), (1, 0.5)):   # 120 steps: 2 and 4 minutes; seed 2 has no run
    w = table_plan.workdir(str(tmp_path), 'smoke', 'a', seed)
    os.makedirs(w)
    lines = [{'step': 60, 'steps_per_sec': sps}, {'step': 120, 'steps_per_sec': sps},
             {'step': 120, 'eval/loss': 1.0}]
    with open(os.path.join(w, 'metrics.jsonl'), 'w') as f:
      f.write(''.join(json.dumps(l) + '\n' for l in lines))
  r = table_report.results(t, 'smoke', str(tmp_path))['r']
  assert r['draws']['training_minutes'][0] == {(0, 0): pytest.approx(2.0),
                                               (1, 0): pytest.approx(4.0)}
  assert r['training_minutes'] == pytest.approx(3.0)
  assert '| r | 3.0 ' in table_report.markdown(t, 'smoke', str(tmp_path), 'cmd')


def test_repeats_train_a_workdir_per_seed_and_evaluate_every_key(tmp_path):
  """Each training seed is its own workdir (``--config.seed``), a reflow run of seed s trains
  on the pairs of its source's seed-s run; a row of a sampling metric is evaluated with every
  key of the scale in one command per seed, a likelihood row with key 0 only."""
  runs = {'rf1': RunSpec(TOY), 'rf2': RunSpec('experiments/rectified_flow/toy2d.py:reflow,smoke',
                                              pairs_from='rf1', num_pairs=64)}
  rows = (Row('sampled', 'rf2'), Row('likelihood', 'rf1', metrics=('nll',)))
  t = Table(name='toy', title='Toy', source='-', paper_setting='-',
            columns=(Column('sliced_wasserstein', 'SW', 'lower'),), rows=rows,
            metrics=('sliced_wasserstein',),
            scales={'smoke': Scale('x', runs, seeds=(0, 1), keys=(0, 3))})
  steps = table_plan.plan(t, 'smoke', str(tmp_path))
  assert [(s.kind, s.name) for s in steps] == [
      ('train', 'rf1 seed 0'), ('pairs', 'rf1 seed 0'), ('train', 'rf2 seed 0'),
      ('train', 'rf1 seed 1'), ('pairs', 'rf1 seed 1'), ('train', 'rf2 seed 1'),
      ('evaluate', 'sampled seed 0'), ('evaluate', 'likelihood seed 0'),
      ('evaluate', 'sampled seed 1'), ('evaluate', 'likelihood seed 1')]
  train = {s.name: s.argv for s in steps if s.kind == 'train'}
  assert '--config.seed=1' in train['rf1 seed 1'] and '--config.seed=0' in train['rf1 seed 0']
  assert f'{tmp_path}/smoke/rf1/seed1' in train['rf1 seed 1']
  assert f'--config.train.init_from={tmp_path}/smoke/rf1/seed1' in train['rf2 seed 1']
  assert steps[4].argv[3] == f'{tmp_path}/smoke/rf1/seed1'
  evals = {s.name: s for s in steps if s.kind == 'evaluate'}
  assert '--config.eval.rng_keys=(0, 3)' in evals['sampled seed 1'].argv
  assert '--config.eval.rng_keys=(0,)' in evals['likelihood seed 1'].argv
  assert evals['sampled seed 1'].out == f'{tmp_path}/smoke/tables/toy/sampled/seed1.json'
  with pytest.raises(ValueError, match='keys must be distinct'):
    Scale('x', runs, keys=(0, 0))
  with pytest.raises(ValueError, match='one evaluation key'):
    Scale('x', runs, samples=10, keys=(0, 1))


def test_a_row_chooses_its_checkpoint(tmp_path):
  """A tiny run built for real: the row with ``step=10`` evaluates that checkpoint
  (``launch.evaluate --step 10``), the other the newest (20); each evaluation holds one result
  per key (different samples; key 0's at the top level, as a single-key evaluation writes it);
  a second plan finds everything done; a step past train.steps is refused before anything
  runs."""
  runs = {'a': RunSpec(TOY, {'train.keep_checkpoints': 5})}
  rows = (Row('early', 'a', step=10), Row('late', 'a'))
  t = Table(name='toy', title='Toy', source='-', paper_setting='-',
            columns=(Column('sliced_wasserstein', 'SW', 'lower'),), rows=rows,
            metrics=('sliced_wasserstein',),
            scales={'smoke': Scale('x', runs, {'eval.num_samples': 16}, keys=(0, 1))})
  steps = table_plan.plan(t, 'smoke', str(tmp_path))
  assert steps[1].argv[-2:] == ('--step', '10') and '--step' not in steps[2].argv
  assert table_execute.execute(steps, log=lambda *a: None) == 0
  early, late = (table_plan.read_row(s.out) for s in steps[1:3])
  assert (early['step'], early['provenance']['step'], late['step']) == (10, 10, 20)
  for record in (early, late):
    reps = record['repeats']
    assert [r['key'] for r in reps] == [0, 1] and record['provenance']['rng_keys'] == [0, 1]
    assert reps[0]['eval/sliced_wasserstein'] != reps[1]['eval/sliced_wasserstein']
    assert record['eval/sliced_wasserstein'] == reps[0]['eval/sliced_wasserstein']
    assert record['provenance']['measured'] == {
        'sliced_wasserstein': {'samples': 16, 'reference': 'toy2d:moons eval-16'}}
  assert early['eval/sliced_wasserstein'] != late['eval/sliced_wasserstein']
  # the floor step measured training examples, a fresh draw per key, no network evaluations
  real = table_plan.read_row(steps[3].out)
  assert real['provenance']['real_data'] == 'toy2d:moons training examples, 16 distinct per key'
  draws = [r['eval/sliced_wasserstein'] for r in real['repeats']]
  assert len(set(draws)) == len(table_plan.FLOOR_KEYS) and real['eval/nfe'] == 0
  assert all(s.done for s in table_plan.plan(t, 'smoke', str(tmp_path)))
  with pytest.raises(cfg.ConfigError, match=r"row 'never'.*step=30 is past"):
    table_plan.plan(Table(name='toy', title='Toy', source='-', paper_setting='-',
                          columns=t.columns, rows=(Row('never', 'a', step=30),),
                          metrics=t.metrics, scales=t.scales), 'smoke', str(tmp_path))


def test_the_report_prints_the_real_data_floor_with_its_interval(tmp_path):
  """The floor's row file (one draw of training examples per key) becomes the last table row,
  mean +- the t interval over its draws, labelled as such, and a line in the CSV; a row's cell
  beside it keeps its own interval."""
  t = _table()
  keys = table_plan.FLOOR_KEYS
  values = [0.1 + 0.01 * k for k in keys]
  _write_row(tmp_path, t, table_plan.FLOOR, {
      'step': 4, 'eval/sliced_wasserstein': values[0],
      'repeats': [{'key': k, 'eval/sliced_wasserstein': v} for k, v in zip(keys, values)],
      'provenance': {'real_data': 'toy training examples, 8 distinct per key'}})
  md = table_report.markdown(t, 'smoke', str(tmp_path), 'python -m launch.table x')
  line = [l for l in md.splitlines() if l.startswith(f'| {table_plan.FLOOR} |')]
  iv = intervals.t_interval(values, 'x')
  half = (iv.high - iv.low) / 2
  assert line == [f'| {table_plan.FLOOR} | {iv.mean:.3f} ± {half:.3f} (10 draws of training '
                  'examples) | - | - | - |']
  assert 'toy training examples, 8 distinct per key (10 draws)' in md
  rows = list(csv.DictReader(io.StringIO(table_report.csv_text(t, 'smoke', str(tmp_path)))))
  assert rows[-1]['row'] == table_plan.FLOOR and float(rows[-1]['sliced_wasserstein']) == (
      pytest.approx(iv.mean))


def test_a_row_chooses_the_best_checkpoint_by_validation(tmp_path):
  """A tiny PixelCNN with a validation split: the row with ``step='best'`` holds ``--step best``
  until its run is trained, then evaluates (per seed) the checkpoint of the lowest val/bpd in the
  run's metrics.jsonl, here step 2 of 4 (its value lowered by hand), says so in its row file and
  the report, and a second plan, which chooses at plan time, finds it done. 'best' on a run
  without a validation split is refused before anything runs."""
  runs = {'p': RunSpec('experiments/pixelcnn/digits.py:smoke', {
      'train.steps': 4, 'train.checkpoint_every': 1, 'train.keep_checkpoints': 5,
      'train.num_devices': 1})}
  t = Table(name='early', title='Early', source='-', paper_setting='-',
            columns=(Column('bpd', 'bpd', 'lower'),), rows=(Row('best', 'p', step='best'),),
            metrics=('bpd',), scales={'smoke': Scale('x', runs)})
  steps = table_plan.plan(t, 'smoke', str(tmp_path))
  evaluate = steps[-1]
  assert evaluate.argv[-2:] == ('--step', 'best') and evaluate.choose and not evaluate.done
  assert table_execute.execute(steps[:1], log=lambda *a: None) == 0   # trains the run
  metrics = os.path.join(table_plan.workdir(str(tmp_path), 'smoke', 'p'), 'metrics.jsonl')
  lines = [json.loads(x) for x in open(metrics)]
  assert [x['step'] for x in lines if 'val/bpd' in x] == [1, 2, 3, 4]
  for x in lines:
    if x['step'] == 2 and 'val/bpd' in x:
      x['val/bpd'] = 0.5
  with open(metrics, 'w') as f:
    f.writelines(json.dumps(x) + '\n' for x in lines)
  assert table_execute.execute(steps, log=lambda *a: None) == 0         # resolves, then evaluates
  record = table_plan.read_row(evaluate.out)
  assert record['step'] == record['provenance']['step'] == 2
  assert record['table_row']['chosen'] == 'best val/bpd 0.5 at step 2 of 4'
  again = table_plan.plan(t, 'smoke', str(tmp_path))
  assert again[-1].argv[-2:] == ('--step', '2') and all(s.done for s in again)
  md = table_report.markdown(t, 'smoke', str(tmp_path), 'cmd')
  assert 'seeds 0 (best val/bpd 0.5 at step 2 of 4)' in md
  toy = Table(name='toy', title='Toy', source='-', paper_setting='-',
              columns=(Column('sliced_wasserstein', 'SW', 'lower'),),
              rows=(Row('r', 'a', step='best'),), metrics=('sliced_wasserstein',),
              scales={'smoke': Scale('x', {'a': RunSpec(TOY)}, {'eval.num_samples': 16})})
  with pytest.raises(cfg.ConfigError, match=r"row 'r'.*step='best'.*has none \(data.validation=0\)"):
    table_plan.plan(toy, 'smoke', str(tmp_path / 'toy'))
