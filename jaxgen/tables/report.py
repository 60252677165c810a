"""A built table as files: ``<name>_<scale>.md`` (ours beside the paper's, the claims checked, how
every row was measured), ``<name>_<scale>.csv`` and, where the table declares a `Plot`,
``<name>_<scale>.png``.

Our numbers come from the row files of `jaxgen.tables.plan` (``launch.evaluate``'s JSON:
``eval/<key>`` and its ``provenance``); the paper's from the table file, always in columns headed
"paper", never mixed with ours. A column the evaluation did not produce prints as "-".
"""

from __future__ import annotations

import csv
import datetime
import io
import os
import platform
from typing import Any, Optional

from jaxgen.runtime import writer
from jaxgen.store import paths
from jaxgen.tables import plan as table_plan
from jaxgen.tables import spec as table_spec

PROVENANCE_KEYS = ('nfe', 'num_params', 'seed', 'step', 'sampler')


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
  None if absent."""
  if key.startswith('train/'):
    return last_logged(workdir, key[len('train/'):]) if workdir else None
  if record is None:
    return None
  name = scale.metrics.get(key, key)
  for k in ('eval/' + name, 'eval/' + key):
    if k in record:
      return record[k]
  prov = record.get('provenance', {})
  if key in prov:
    return prov[key]
  return record.get(key)


def results(table: table_spec.Table, scale: str, runs: str) -> dict:
  """Row label -> {'record': the row file or None, column key -> value}."""
  s = table.scales[scale]
  out = {}
  for row in table.rows_at(scale):
    record = table_plan.read_row(table_plan.row_file(runs, scale, table.name, row.label))
    path = table_plan.workdir(runs, scale, row.run)
    out[row.label] = {'record': record,
                      **{c.key: value(record, c.key, s, path) for c in table.columns}}
  return out


def _fmt(v, fmt: str) -> str:
  if v is None:
    return '-'
  if isinstance(v, (int, float)) and not isinstance(v, bool):
    try:
      return format(v, fmt)
    except ValueError:
      return str(v)
  return str(v)


def claims(table: table_spec.Table, res: dict) -> list:
  """``(claim, verdict, why)`` for each claim: verdict 'agrees', 'disagrees' or 'not measured'
  (a row it reads has no number yet)."""
  numbers = {label: {k: v for k, v in r.items() if k != 'record'} for label, r in res.items()}
  out = []
  for claim in table.claims:
    try:
      ok, why = claim.check(numbers)
    except (KeyError, TypeError) as e:   # a missing row or a None value
      out.append((claim.text, 'not measured', f'needs {e}'))
      continue
    out.append((claim.text, 'agrees' if ok else 'disagrees', why))
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
  train = [training_seconds(table_plan.workdir(runs, scale, k)) for k in keys]
  evals = [((r['record'] or {}).get('table_row') or {}).get('seconds') for r in res.values()]
  t = sum(x for x in train if x)
  e = sum(x for x in evals if x)
  return (f'training {t / 60:.1f} min ({sum(1 for x in train if x)} of {len(keys)} runs; from '
          f'their metrics.jsonl, runs shared with other tables included), evaluation '
          f'{e / 60:.1f} min ({sum(1 for x in evals if x)} of {len(evals)} rows; each a fresh '
          'process, compilation included); reflow pairs not counted')


def machine() -> str:
  import jax
  return (f'{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, jax '
          f'{jax.__version__} on {jax.default_backend()} ({jax.device_count()} device(s))')


def markdown(table: table_spec.Table, scale: str, runs: str, command: str,
             seconds: Optional[float] = None) -> str:
  s = table.scales[scale]
  res = results(table, scale, runs)
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
  lines.append('')
  head = ['row'] + [c.label + {'lower': ' (lower better)', 'higher': ' (higher better)',
                               '': ''}[c.better] for c in cols]
  head += [c.label + ' (paper)' for c in paper_cols]
  lines += ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
  for row in table.rows_at(scale):
    r = res[row.label]
    cells = [row.label] + [_fmt(r[c.key], c.fmt) for c in cols]
    cells += [_fmt(row.paper.get(c.key), c.fmt) for c in paper_cols]
    lines.append('| ' + ' | '.join(cells) + ' |')
  lines.append('')
  verdicts = claims(table, res)
  if verdicts:
    lines += ['## The paper\'s claims, checked on these numbers', '']
    lines += [f'- **{v}**: {text}. {why}' for text, v, why in verdicts]
    lines.append('')
  if table.notes:
    lines += ['## Notes', '', table.notes.strip(), '']
  lines += ['## How each row was measured', '']
  idents: dict = {}
  for row in table.rows_at(scale):
    r = res[row.label]
    rec = r['record'] or {}
    prov = rec.get('provenance', {})
    spec = s.runs[row.run]
    over = table_plan.evaluation_overrides(table, scale, row)
    extra = ', '.join(f'{k}={table_plan.text(v)}' for k, v in over.items())
    how = f'- {row.label}: run `{row.run}` = `{spec.config}`'
    trained = training_seconds(table_plan.workdir(runs, scale, row.run))
    if spec.overrides:
      how += ' ' + ' '.join(table_plan.flags(spec.overrides))
    if spec.pairs_from:
      how += f' on {spec.num_pairs} reflow pairs of `{spec.pairs_from}`'
    how += f'; evaluated with {extra}'
    if prov:
      how += (f'; seed {prov.get("seed")}, step {prov.get("step")}'
              + (f', sampler {prov["sampler"]} (NFE {prov["nfe"]:g})' if 'sampler' in prov else '')
              + (f'; trained in {trained / 60:.1f} min' if trained else '')
              + (f', evaluated in {rec["table_row"]["seconds"]:.0f} s' if 'table_row' in rec
                 else ''))
    else:
      how += '; NOT EVALUATED YET'
    lines.append(how)
    idents.update(prov.get('evaluators', {}))
  if idents:
    lines += ['', 'Evaluators: ' + '; '.join(f'{k}: {v}' for k, v in sorted(idents.items()))]
  lines.append('')
  return '\n'.join(lines)


def csv_text(table: table_spec.Table, scale: str, runs: str) -> str:
  res = results(table, scale, runs)
  buf = io.StringIO()
  w = csv.writer(buf)
  keys = [c.key for c in table.columns]
  w.writerow(['row', 'run', 'scale'] + keys + ['paper_' + k for k in keys]
             + [k for k in PROVENANCE_KEYS if k not in keys] + ['evaluators'])
  for row in table.rows_at(scale):
    r = res[row.label]
    prov = (r['record'] or {}).get('provenance', {})
    w.writerow([row.label, row.run, scale] + ['' if r[k] is None else r[k] for k in keys]
               + [row.paper.get(k, '') for k in keys]
               + [prov.get(k, '') for k in PROVENANCE_KEYS if k not in keys]
               + ['; '.join(f'{k}: {v}' for k, v in sorted(prov.get('evaluators', {}).items()))])
  return buf.getvalue()


def curves(table: table_spec.Table, scale: str, runs: str) -> dict:
  """The plot's points: {series: [(x, y), ...] in increasing x}, from the rows with a series and
  both values measured."""
  res = results(table, scale, runs)
  p = table.plot
  series: dict = {}
  for row in table.rows_at(scale):
    r = res[row.label]
    if row.series and r.get(p.x) is not None and r.get(p.y) is not None:
      series.setdefault(row.series, []).append((r[p.x], r[p.y]))
  return {name: sorted(pts) for name, pts in series.items()}


def plot(table: table_spec.Table, scale: str, runs: str, out: str) -> Optional[str]:
  """The table's `Plot` as a PNG (one curve per row series); None without matplotlib or plot."""
  if table.plot is None:
    return None
  try:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
  except ImportError:
    return None
  p = table.plot
  label = {c.key: c.label for c in table.columns}
  fig, ax = plt.subplots(figsize=(5, 3.5))
  series = curves(table, scale, runs)
  for name, pts in series.items():
    xs, ys = zip(*pts)
    ax.plot(xs, ys, 'o-', label=name)
  if scale in p.floor:
    value, text = p.floor[scale]
    ax.axhline(value, color='grey', linestyle='--', linewidth=1, label=text)
  if p.logx:
    ax.set_xscale('log')
  if p.logy:
    ax.set_yscale('log')
  ax.set_xlabel(label.get(p.x, p.x))
  ax.set_ylabel(label.get(p.y, p.y))
  ax.set_title(f'{table.title} ({scale})', fontsize=9)
  if series:
    ax.legend(fontsize=8)
  fig.tight_layout()
  paths.makedirs(os.path.dirname(out) or '.')
  fig.savefig(out, dpi=120)
  plt.close(fig)
  return out


def write(table: table_spec.Table, scale: str, runs: str, out_dir: str, command: str,
          seconds: Optional[float] = None) -> list:
  """Writes the Markdown, the CSV and the plot into `out_dir`; returns their paths."""
  paths.makedirs(out_dir)
  stem = os.path.join(out_dir, f'{table.name}_{scale}')
  paths.write_atomic(stem + '.md', markdown(table, scale, runs, command, seconds))
  paths.write_atomic(stem + '.csv', csv_text(table, scale, runs))
  written = [stem + '.md', stem + '.csv']
  png = plot(table, scale, runs, stem + '.png')
  if png:
    written.append(png)
  return written
