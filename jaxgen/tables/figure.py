"""A table's figure: its `Plot` (`jaxgen.tables.spec.Plot`) drawn from the report's results, one
curve per row series with 95% intervals as error bars and the real-data floor as a dashed line in
its band (matplotlib, optional: without it there is no figure)."""

from __future__ import annotations

import os
from typing import Optional

import numpy as np

from jaxgen.store import paths
from jaxgen.tables import plan as table_plan
from jaxgen.tables import spec as table_spec


def curves(table: table_spec.Table, scale: str, res: dict) -> dict:
  """The plot's points: {series: [(x, y, y_low, y_high), ...] in increasing x}, from the rows
  with a series and both values measured in `res` (`jaxgen.tables.report.results`; the bounds:
  y's 95% interval, or y itself without one)."""
  p = table.plot
  series: dict = {}
  for row in table.rows_at(scale):
    r = res[row.label]
    if row.series and r.get(p.x) is not None and r.get(p.y) is not None:
      iv = r['interval'].get(p.y)
      low, high = (iv.low, iv.high) if iv is not None else (r[p.y], r[p.y])
      series.setdefault(row.series, []).append((r[p.x], r[p.y], low, high))
  return {name: sorted(pts) for name, pts in series.items()}


def plot(table: table_spec.Table, scale: str, res: dict, real: Optional[dict],
         out: str) -> Optional[str]:
  """The table's `Plot` of the results `res` as a PNG (one curve per row series, 95% intervals as
  error bars, the real-data floor `real` as a dashed line in its band; `jaxgen.tables.report`'s
  `results` and `floor`); None without matplotlib or plot."""
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
  series = curves(table, scale, res)
  for name, pts in series.items():
    xs, ys, lows, highs = (np.asarray(v, np.float64) for v in zip(*pts))
    ax.errorbar(xs, ys, yerr=[ys - lows, highs - ys], fmt='o-', capsize=3, label=name)
  if real is not None and real.get(p.y) is not None:
    iv = real['interval'].get(p.y)
    ax.axhline(real[p.y], color='grey', linestyle='--', linewidth=1, label=table_plan.FLOOR)
    if iv is not None:
      ax.axhspan(iv.low, iv.high, color='grey', alpha=0.2, linewidth=0)
  if p.logx:
    ax.set_xscale('log')
  if p.logy:
    ax.set_yscale('log')
  ax.set_xlabel(label.get(p.x, p.x))
  ax.set_ylabel(label.get(p.y, p.y) + ' (95% intervals)')
  ax.set_title(f'{table.title} ({scale})', fontsize=9)
  if series:
    ax.legend(fontsize=8)
  fig.tight_layout()
  paths.makedirs(os.path.dirname(out) or '.')
  fig.savefig(out, dpi=120)
  plt.close(fig)
  return out
