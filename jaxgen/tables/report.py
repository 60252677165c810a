"""A built table as files: ``<name>_<scale>.md`` (ours beside the paper's, the claims checked, how
every row was measured), ``<name>_<scale>.csv`` and, where the table declares a `Plot`,
``<name>_<scale>.png``.

Our numbers come from the row files of `jaxgen.tables.plan` (``launch.evaluate``'s JSON, one per
training seed: ``repeats`` of ``eval/<key>`` per evaluation key, and its ``provenance``); each
cell is the mean over the draws with its 95% interval and the interval's unit
(`jaxgen.tables.cells`); each claim is judged by `jaxgen.metrics.intervals.verdict`, whose
``RULE`` every report prints once. The paper's numbers come from the table file, always in
columns headed "paper", never mixed with ours. A column the evaluation did not produce prints as
"-". A column header names what its values are (``fd@1000 vs digits eval-297``: the sample count
and the reference, from the evaluation's ``provenance.measured``); a column whose rows drew
different sample counts, or an ``nll`` column mixing discrete and continuous likelihoods, is
refused (ConfigError). The Evaluators line lists every row's evaluator identities.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import os
import platform
from typing import Any, Optional

import numpy as np

from jaxgen.metrics import intervals
from jaxgen.runtime import writer
from jaxgen.store import paths
from jaxgen.tables import cells
from jaxgen.tables import columns
from jaxgen.tables import figure
from jaxgen.tables import plan as table_plan
from jaxgen.tables import spec as table_spec

PROVENANCE_KEYS = ('nfe', 'num_params', 'seed', 'step', 'sampler')
TRAINING_MINUTES = 'training_minutes'   # the column of a row's run's training wall time


def last_logged(workdir: str, key: str) -> Optional[float]:
  """The last value of `key` that training logged in the run's metrics.jsonl (or None)."""
  out = None
  for rec in writer.read_metrics(workdir):
    if key in rec and 'steps_per_sec' in rec:
      out = rec[key]
  return out


def value(record: Optional[dict], key: str, scale: table_spec.Scale,
          workdir: str = '') -> Any:
  """Column `key` of a row record: ``eval/<key>`` (renamed by the scale's metrics), else the
  provenance's `key`; ``train/<k>``: the last training value of k in the run's metrics.jsonl;
  `TRAINING_MINUTES`: the run's `training_seconds` in minutes; ``likelihood``:
  `likelihood_kind`; ``sampling.<k>``: the sampling setting k the row was evaluated with; None if
  absent."""
  if key.startswith('train/'):
    return last_logged(workdir, key[len('train/'):]) if workdir else None
  if key == TRAINING_MINUTES:
    seconds = training_seconds(workdir) if workdir else None
    return None if seconds is None else seconds / 60
  if record is None:
    return None
  if key == 'likelihood':
    return columns.likelihood_kind(record)
  if key.startswith('sampling.'):
    return (record.get('provenance', {}).get('sampling') or {}).get(key[len('sampling.'):])
  name = scale.metrics.get(key, key)
  for k in ('eval/' + name, 'eval/' + key):
    if k in record:
      return record[k]
  prov = record.get('provenance', {})
  if key in prov:
    return prov[key]
  return record.get(key)


def _records(table: table_spec.Table, scale: str, runs: str, row: table_spec.Row) -> dict:
  """seed -> the row file of that seed (None: not evaluated yet)."""
  return {seed: table_plan.read_row(table_plan.row_file(runs, scale, table.name, row.label, seed))
          for seed in table.scales[scale].seeds}


def results(table: table_spec.Table, scale: str, runs: str) -> dict:
  """Row label -> {'records': seed -> row file or None, 'draws': column key -> `cells.draws`
  pair, 'interval': column key -> its `cells.over_units` interval or None, column key -> the mean
  over the draws (a non-repeated value: the first seed's)}; a column a row `reads` holds that
  metric of the row's evaluation."""
  s = table.scales[scale]
  out = {}
  for row in table.rows_at(scale):
    records = _records(table, scale, runs, row)
    entry = {'records': records, 'draws': {}, 'interval': {}}
    for c in table.columns:
      if c.key.startswith('train/') or c.key == TRAINING_MINUTES:
        vals = {(seed, 0): value(None, c.key, s, table_plan.workdir(runs, scale, row.run, seed))
                for seed in s.seeds}
        d = ({k: float(v) for k, v in vals.items() if v is not None}, {})
      else:
        d = cells.draws(records, (row.reads[c.key],) if c.key in row.reads else
                        (s.metrics.get(c.key, c.key), c.key))
      entry['draws'][c.key] = d
      entry['interval'][c.key] = cells.over_units(*d) if d[0] else None
      if d[0]:
        entry[c.key] = float(np.mean(list(d[0].values())))
      else:
        first = next((r for r in records.values() if r is not None), None)
        entry[c.key] = value(first, c.key, s)
    out[row.label] = entry
  return out


def floor(table: table_spec.Table, scale: str, runs: str) -> Optional[dict]:
  """The real-data floor as a `results` entry (its interval over the draws of training
  examples), or None when the table has none or it is not evaluated yet (`plan.floor_steps`)."""
  if not table_plan.floor_steps(table, scale, runs):
    return None
  s = table.scales[scale]
  seed = s.seeds[0]
  record = table_plan.read_row(table_plan.row_file(runs, scale, table.name, table_plan.FLOOR,
                                                   seed))
  if record is None:
    return None
  entry = {'records': {seed: record}, 'draws': {}, 'interval': {}}
  for c in table.columns:
    d = cells.draws({seed: record}, (s.metrics.get(c.key, c.key), c.key))
    iv = cells.over_units(*d) if d[0] else None
    entry['draws'][c.key] = d
    entry['interval'][c.key] = (None if iv is None else
                                dataclasses.replace(iv, kind='draws of training examples'))
    entry[c.key] = float(np.mean(list(d[0].values()))) if d[0] else None
  return entry


def _fmt(v, fmt: str) -> str:
  if v is None:
    return '-'
  if isinstance(v, (int, float)) and not isinstance(v, bool):
    try:
      return format(v, fmt)
    except ValueError:
      return str(v)
  return str(v)


def cell(r: dict, column: table_spec.Column) -> str:
  """A Markdown cell: the mean, and for a column with a direction (``better``) its 95% interval
  and unit, ``0.412 ± 0.031 (2 training seeds)``, with the standard error over test examples
  where the draws hold per-example values and the interval is over seeds or keys."""
  text = _fmt(r[column.key], column.fmt)
  iv = r['interval'].get(column.key)
  if column.better and iv is not None:
    text += f' ± {_fmt((iv.high - iv.low) / 2, column.fmt)} ({iv.n} {iv.kind})'
    se = cells.example_error(r['draws'][column.key][1])
    if se and iv.kind != 'test examples':
      text += f'; SE {_fmt(se[0], column.fmt)} over {se[1]} test examples'
  return text


def claims(table: table_spec.Table, res: dict) -> list:
  """``(claim text, verdict, [(comparison verdict, why), ...])`` for each claim
  (`cells.judge`, `cells.claim_verdict`)."""
  row_draws = {label: r['draws'] for label, r in res.items()}
  out = []
  for claim in table.claims:
    judged = [cells.judge(c, row_draws) for c in claim.compares]
    out.append((claim.text, cells.claim_verdict(v for v, _ in judged), judged))
  return out


def training_seconds(workdir: str) -> Optional[float]:
  """A run's training wall time from its metrics.jsonl: the sum over log intervals of steps /
  steps_per_sec (the first interval includes the compilation; a resumed run counts each
  logged interval once); None if it logged none."""
  total, last, seen = 0.0, 0, set()
  for rec in writer.read_metrics(workdir):
    sps, step = rec.get('steps_per_sec'), rec.get('step')
    if sps and step is not None and step not in seen and step > last:
      total += (step - last) / sps
      last = step
      seen.add(step)
  return total if seen else None


def runtime_line(table: table_spec.Table, scale: str, runs: str, res: dict) -> str:
  """'training A min (n runs), evaluation B min (m rows)' as measured by this machine's runs."""
  keys = []
  for row in table.rows_at(scale):
    key = row.run
    while key and key not in keys:
      keys.append(key)
      key = table.scales[scale].runs[key].pairs_from
  seeds = table.scales[scale].seeds
  train = [training_seconds(table_plan.workdir(runs, scale, k, seed)) for k in keys
           for seed in seeds]
  evals = [((rec or {}).get('table_row') or {}).get('seconds') for r in res.values()
           for rec in r['records'].values()]
  t = sum(x for x in train if x)
  e = sum(x for x in evals if x)
  return (f'training {t / 60:.1f} min ({sum(1 for x in train if x)} of {len(train)} runs: '
          f'{len(keys)} x {len(seeds)} seeds; from their metrics.jsonl, runs shared with other '
          f'tables included), evaluation {e / 60:.1f} min ({sum(1 for x in evals if x)} of '
          f'{len(evals)} row evaluations; each a fresh process, compilation included); reflow '
          'pairs not counted')


def machine() -> str:
  import jax
  return (f'{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, jax '
          f'{jax.__version__} on {jax.default_backend()} ({jax.device_count()} device(s))')


def _header(c: table_spec.Column, labels: dict) -> str:
  what = f' [{labels[c.key]}]' if c.key in labels else ''
  return c.label + what + {'lower': ' (lower better)', 'higher': ' (higher better)', '': ''}[
      c.better]


def _evaluators(table: table_spec.Table, scale: str, res: dict) -> list:
  """'name: identity (rows a, b)' for every evaluator identity of every row."""
  rows_of: dict = {}
  for row in table.rows_at(scale):
    for record in res[row.label]['records'].values():
      for k, v in ((record or {}).get('provenance', {}).get('evaluators') or {}).items():
        labels = rows_of.setdefault((k, v), [])
        if row.label not in labels:
          labels.append(row.label)
  n = len(table.rows_at(scale))
  return [f'{k}: {v} ({"every row" if len(labels) == n else "rows " + ", ".join(labels)})'
          for (k, v), labels in sorted(rows_of.items())]


def markdown(table: table_spec.Table, scale: str, runs: str, command: str,
             seconds: Optional[float] = None) -> str:
  """The report (module docstring); ConfigError for a column `columns.labels` refuses."""
  s = table.scales[scale]
  res = results(table, scale, runs)
  labels = columns.labels(table, scale, res)
  cols = table.columns
  paper_cols = [c for c in cols if any(c.key in r.paper for r in table.rows_at(scale))]
  now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
  paper = (f'Paper: {table.source}. The paper\'s numbers ({table.paper_setting}) are in the '
           'columns marked "paper"; every other number is ours.' if paper_cols else
           f'Paper: {table.source}. Every number here is ours.')
  lines = [f'# {table.title} ({scale} scale)', '', s.description, '', paper, '',
           f'Command: `{command}`  ', f'Date: {now}  ', f'Machine: {machine()}  ']
  if s.runtime:
    lines.append(f'Runtime: {s.runtime}  ')
  lines.append(f'Measured here: {runtime_line(table, scale, runs, res)}  ')
  if seconds is not None:
    lines.append(f'This invocation: {seconds / 60:.1f} min (steps already done were skipped)  ')
  lines.append(f'Repeats: training seeds {", ".join(map(str, s.seeds))} (one run each); '
               f'evaluation keys {", ".join(map(str, s.keys))} of each run for rows measured on '
               'samples (likelihood rows: the seeds only)  ')
  lines.append('')
  head = ['row'] + [_header(c, labels) for c in cols] + [c.label + ' (paper)' for c in paper_cols]
  lines += ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
  for row in table.rows_at(scale):
    r = res[row.label]
    cells_ = [row.label] + [cell(r, c) for c in cols]
    cells_ += [_fmt(row.paper.get(c.key), c.fmt) for c in paper_cols]
    lines.append('| ' + ' | '.join(cells_) + ' |')
  real = floor(table, scale, runs)
  if real is not None:
    cells_ = [table_plan.FLOOR] + [cell(real, c) for c in cols] + ['-'] * len(paper_cols)
    lines.append('| ' + ' | '.join(cells_) + ' |')
  lines += ['', 'Each "±" is a 95% interval of the mean over the unit named beside it: Student t '
            'over training seeds (each seed\'s mean over its keys) or over evaluation keys, or '
            'the normal interval over test examples (jaxgen.tables.cells); columns without a '
            'direction show the mean only.', '']
  if real is not None:
    prov = real['records'][s.seeds[0]].get('provenance', {})
    lines += [f'{table_plan.FLOOR}: the same metrics of {prov.get("real_data", "training examples")}'
              f' ({len(table_plan.FLOOR_KEYS)} draws) against the rows\' reference, what a model '
              'that samples its training distribution exactly would score at this sample count '
              '(jaxgen.tables.plan.floor_steps).', '']
  lines += [f'Verdict rule: {intervals.RULE}', '']
  verdicts = claims(table, res)
  if verdicts:
    lines += ['## The paper\'s claims, checked on these numbers', '']
    for text, v, judged in verdicts:
      lines.append(f'- **{v}**: {text}.')
      lines += [f'  - {jv}: {why}' for jv, why in judged]
    lines.append('')
  if table.notes:
    lines += ['## Notes', '', table.notes.strip(), '']
  lines += ['## How each row was measured', '']
  for row in table.rows_at(scale):
    r = res[row.label]
    spec = s.runs[row.run]
    over = table_plan.evaluation_overrides(table, scale, row)
    extra = ', '.join(f'{k}={table_plan.text(v)}' for k, v in over.items())
    how = f'- {row.label}: run `{row.run}` = `{spec.config}`'
    if spec.overrides:
      how += ' ' + ' '.join(table_plan.flags(spec.overrides))
    if spec.pairs_from:
      how += f' on {spec.num_pairs} reflow pairs of `{spec.pairs_from}`'
    how += f'; evaluated with {extra}' + (f' at step {row.step}' if row.step is not None else '')
    if row.guide:
      how += f', autoguided by run `{row.guide}` of the same seed'
    done = {seed: rec for seed, rec in r['records'].items() if rec is not None}
    if done:
      prov = next(iter(done.values())).get('provenance', {})
      trained = [training_seconds(table_plan.workdir(runs, scale, row.run, seed))
                 for seed in done]
      evaluated = [rec['table_row']['seconds'] for rec in done.values() if 'table_row' in rec]
      how += ('; seeds ' + ', '.join(
          f'{seed} (' + ((rec.get('table_row') or {}).get('chosen') or f'step {rec.get("step")}')
          + ')' for seed, rec in done.items())
              + (f', sampler {prov["sampler"]} (NFE {prov["nfe"]:g})' if 'sampler' in prov else '')
              + (f'; trained in {sum(x for x in trained if x) / 60:.1f} min' if any(trained)
                 else '')
              + (f', evaluated in {sum(evaluated):.0f} s' if evaluated else ''))
      kind = columns.likelihood_kind(next(iter(done.values())))
      if kind:
        how += f'; likelihood: {kind}'
      missing = [seed for seed, rec in r['records'].items() if rec is None]
      if missing:
        how += f'; seeds {missing} NOT EVALUATED YET'
    else:
      how += '; NOT EVALUATED YET'
    lines.append(how)
  idents = _evaluators(table, scale, res)
  if idents:
    lines += ['', 'Evaluators: ' + '; '.join(idents)]
  lines.append('')
  return '\n'.join(lines)


def csv_text(table: table_spec.Table, scale: str, runs: str) -> str:
  """One line per row: the means, the paper's numbers, each directed column's 95% interval
  (``<key>_low``, ``<key>_high``, ``<key>_n``, ``<key>_kind``), the first seed's provenance and
  every seed's evaluators."""
  res = results(table, scale, runs)
  buf = io.StringIO()
  w = csv.writer(buf)
  keys = [c.key for c in table.columns]
  directed = [c.key for c in table.columns if c.better]
  w.writerow(['row', 'run', 'scale'] + keys + ['paper_' + k for k in keys]
             + [k for k in PROVENANCE_KEYS if k not in keys] + ['evaluators']
             + [f'{k}_{p}' for k in directed for p in ('low', 'high', 'n', 'kind')])
  real = floor(table, scale, runs)
  lines = [(row.label, row.run, row.paper, res[row.label]) for row in table.rows_at(scale)]
  if real is not None:
    lines.append((table_plan.FLOOR, '', {}, real))
  for label, run, paper, r in lines:
    first = next((rec for rec in r['records'].values() if rec is not None), None) or {}
    prov = first.get('provenance', {})
    ivs = []
    for k in directed:
      iv = r['interval'][k]
      ivs += [iv.low, iv.high, iv.n, iv.kind] if iv is not None else ['', '', '', '']
    idents = sorted({f'{k}: {v}' for rec in r['records'].values() for k, v in
                     ((rec or {}).get('provenance', {}).get('evaluators') or {}).items()})
    w.writerow([label, run, scale] + ['' if r[k] is None else r[k] for k in keys]
               + [paper.get(k, '') for k in keys]
               + [prov.get(k, '') for k in PROVENANCE_KEYS if k not in keys]
               + ['; '.join(idents)] + ivs)
  return buf.getvalue()


def write(table: table_spec.Table, scale: str, runs: str, out_dir: str, command: str,
          seconds: Optional[float] = None) -> list:
  """Writes the Markdown, the CSV and the plot into `out_dir`; returns their paths (ConfigError,
  nothing written, for a column `columns.labels` refuses)."""
  md = markdown(table, scale, runs, command, seconds)
  paths.makedirs(out_dir)
  stem = os.path.join(out_dir, f'{table.name}_{scale}')
  paths.write_atomic(stem + '.md', md)
  paths.write_atomic(stem + '.csv', csv_text(table, scale, runs))
  written = [stem + '.md', stem + '.csv']
  png = table.plot and figure.plot(table, scale, results(table, scale, runs),
                                   floor(table, scale, runs), stem + '.png')
  if png:
    written.append(png)
  return written
