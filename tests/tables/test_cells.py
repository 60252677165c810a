"""Cells and verdicts from repeats (`jaxgen.tables.cells`, through `table_report`): on synthetic
row files of 3 training seeds x 2 keys, a cell is the mean with a 95% t interval over the seeds;
a claim whose paired difference lies inside the noise is 'not resolved', a clear one 'agrees'
or 'disagrees' by the rule, which the report prints once; pairing by seed and key removes what
two rows share; one seed of likelihoods pairs by test example."""

import json
import os

import numpy as np
import pytest

from jaxgen.metrics import intervals
from jaxgen.tables import cells
from jaxgen.tables import plan as table_plan
from jaxgen.tables import report as table_report
from jaxgen.tables.spec import Claim, Column, Compare, Row, RunSpec, Scale, Table

TOY = 'experiments/rectified_flow/toy2d.py:smoke'
SEEDS, KEYS = (0, 1, 2), (0, 1)


def _table(claims=(), seeds=SEEDS, keys=KEYS):
  rows = tuple(Row(label, 'a') for label in ('base', 'same', 'better', 'worse'))
  return Table(name='toy', title='Toy', source='-', paper_setting='-',
               columns=(Column('sliced_wasserstein', 'SW', 'lower'),), rows=rows,
               metrics=('sliced_wasserstein',), claims=claims,
               scales={'smoke': Scale('x', {'a': RunSpec(TOY)}, seeds=seeds, keys=keys)})


def _write(runs, table, label, values, examples=None):
  """values: {(seed, key): value}; examples: {(seed, key): per-example list} (optional)."""
  for seed in sorted({s for s, _ in values}):
    reps = [{'key': k, 'eval/sliced_wasserstein': v,
             **({'examples': {'sliced_wasserstein': examples[(s, k)]}} if examples else {})}
            for (s, k), v in sorted(values.items()) if s == seed]
    out = table_plan.row_file(runs, 'smoke', table.name, label, seed)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, 'w') as f:
      json.dump({'step': 4, **{k: v for k, v in reps[0].items() if k != 'key'}, 'repeats': reps,
                 'provenance': {'seed': seed, 'step': 4, 'evaluators': {}}}, f)


def _synthetic(runs, table):
  """base: seed effect + key noise; same: base + per-seed differences that average ~0 (inside
  the noise); better / worse: base -/+ a shift far outside it (the same seed and key effects:
  paired)."""
  rng = np.random.default_rng(0)
  seed_effect = {s: rng.normal(0, 1.0) for s in SEEDS}
  base = {(s, k): 10 + seed_effect[s] + rng.normal(0, 0.1) for s in SEEDS for k in KEYS}
  _write(runs, table, 'base', base)
  inside = {0: 0.1, 1: -0.1, 2: 0.02}   # per-seed differences of mean ~0, sd 0.1: noise
  _write(runs, table, 'same', {(s, k): v + inside[s] for (s, k), v in base.items()})
  _write(runs, table, 'better', {sk: v - 1.0 + rng.normal(0, 0.05) for sk, v in base.items()})
  _write(runs, table, 'worse', {sk: v + 1.0 + rng.normal(0, 0.05) for sk, v in base.items()})
  return base


def test_verdicts_inside_the_noise_and_clear_ones(tmp_path):
  claims = (Claim('same beats base', (Compare('same', 'base', 'sliced_wasserstein'),)),
            Claim('better beats base', (Compare('better', 'base', 'sliced_wasserstein'),)),
            Claim('worse beats base', (Compare('worse', 'base', 'sliced_wasserstein'),)),
            Claim('worse above base', (Compare('worse', 'base', 'sliced_wasserstein', '>'),)),
            Claim('both', (Compare('better', 'base', 'sliced_wasserstein'),
                           Compare('same', 'base', 'sliced_wasserstein'))))
  t = _table(claims)
  _synthetic(str(tmp_path), t)
  res = table_report.results(t, 'smoke', str(tmp_path))
  got = {text: v for text, v, _ in table_report.claims(t, res)}
  assert got == {'same beats base': 'not resolved', 'better beats base': 'agrees',
                 'worse beats base': 'disagrees', 'worse above base': 'agrees',
                 'both': 'not resolved'}
  md = table_report.markdown(t, 'smoke', str(tmp_path), 'python -m launch.table x')
  assert md.count(intervals.RULE) == 1
  assert '**agrees**: better beats base.' in md and '(3 training seeds)' in md


def test_paired_differences_remove_the_shared_seed_effect(tmp_path):
  """Unpaired, 'better' (base - 1) overlaps base: the seed effect (sd 1) is as large as the
  shift; paired by seed and key, the difference's interval is narrow and excludes zero."""
  t = _table()
  base = _synthetic(str(tmp_path), t)
  res = table_report.results(t, 'smoke', str(tmp_path))
  b, better = res['base'], res['better']
  assert b['interval']['sliced_wasserstein'].low < better['interval']['sliced_wasserstein'].high
  d = cells.difference(better['draws']['sliced_wasserstein'], b['draws']['sliced_wasserstein'])
  assert d.kind == 'training seeds' and d.n == 3 and d.high < 0
  assert d.mean == pytest.approx(-1.0, abs=0.1)
  # a cell: the mean of the seed means, its interval over the 3 seeds
  iv = b['interval']['sliced_wasserstein']
  means = [np.mean([base[(s, k)] for k in KEYS]) for s in SEEDS]
  assert (iv.n, iv.kind) == (3, 'training seeds')
  assert iv.mean == pytest.approx(np.mean(means))
  assert b['sliced_wasserstein'] == pytest.approx(np.mean(list(base.values())))


def test_units_one_seed_keys_then_test_examples(tmp_path):
  """One seed and two keys: the interval is over keys; one draw holding per-example values:
  over the test examples, and two rows' difference pairs them example by example."""
  t = _table(seeds=(0,))
  _write(str(tmp_path), t, 'base', {(0, 0): 1.0, (0, 1): 1.2})
  res = table_report.results(t, 'smoke', str(tmp_path))
  assert res['base']['interval']['sliced_wasserstein'].kind == 'keys'
  rng = np.random.default_rng(1)
  shared = rng.normal(3.0, 1.0, 400)   # the examples' own spread, shared by both rows
  a = {(0, 0): list(shared)}
  b = {(0, 0): list(shared + 0.05 + rng.normal(0, 0.01, 400))}
  va, vb = cells.draws({0: {'eval/bpd': 3.0, 'examples': {'bpd': a[(0, 0)]}}}, ('bpd',)), \
      cells.draws({0: {'eval/bpd': 3.05, 'examples': {'bpd': b[(0, 0)]}}}, ('bpd',))
  assert cells.over_units(*va).kind == 'test examples'
  d = cells.difference(vb, va)
  assert d.kind == 'test examples' and d.n == 400 and d.low > 0   # unpaired SE ~0.07 > 0.05
  assert intervals.verdict(d, '<') == 'disagrees'
  assert cells.example_error(va[1]) == (pytest.approx(np.std(shared, ddof=1) / 20), 400)
