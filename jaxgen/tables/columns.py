"""What a table column's values are, and the columns a report refuses.

* A sample-quality value is a statistic of some number of samples against a reference: its
  evaluation records both (``provenance.measured``: ``{'fd': {'samples': 1000, 'reference':
  'digits eval-297'}}``), and the column header names them, ``fd@1000 vs digits eval-297``. FD,
  KID and IS depend on the sample count (FD is biased upwards for few samples), so a column
  whose rows drew different counts is refused.
* A likelihood in nats is a unit of its kind: the nats of a discrete mass and those of a density
  on a data range are not comparable (bits/dim, `jaxgen.metrics.bpd`, is), so an ``nll`` column
  mixing the two is refused; each row's kind comes from its evaluator identity
  (`likelihood_kind`).
"""

from __future__ import annotations

from typing import Optional

from jaxgen.runtime import config as cfg_lib
from jaxgen.tables import spec as table_spec


def likelihood_kind(record: Optional[dict]) -> Optional[str]:
  """What a row's likelihood is ('exact discrete likelihood', 'uniformly dequantized (bound)',
  'continuous density'), from its evaluator identity; None without one."""
  ident = ((record or {}).get('provenance', {}).get('evaluators') or {}).get('likelihood')
  return ident.split(',')[0] if ident else None


def measured_label(record: Optional[dict], name: str) -> Optional[tuple]:
  """``(samples, 'fd@1000 vs digits eval-297')`` of metric `name` in a row file (None if the
  evaluation did not record it)."""
  m = ((record or {}).get('provenance', {}).get('measured') or {}).get(name)
  if not m:
    return None
  return m['samples'], f'{name}@{m["samples"]} vs {m["reference"]}'


def labels(table: table_spec.Table, scale: str, res: dict) -> dict:
  """Column key -> what its values are (``fd@1000 vs digits eval-297``), from the row files of `res` (`jaxgen.tables.report.results`: label -> {'records': seed -> row file});
  ConfigError for a column whose rows drew different sample counts, or an ``nll`` column mixing
  discrete masses with densities (nats of another unit)."""
  s = table.scales[scale]
  out = {}
  for c in table.columns:
    name = s.metrics.get(c.key, c.key)
    seen: dict = {}
    for label, r in res.items():
      for record in r['records'].values():
        got = measured_label(record, name)
        if got:
          seen.setdefault(got[0], {}).setdefault(got[1], label)
    if len(seen) > 1:
      (n1, l1), (n2, l2) = [(n, next(iter(v.values()))) for n, v in list(seen.items())[:2]]
      raise cfg_lib.ConfigError(
          f'table {table.name}, column {c.key!r}: row {l1!r} was evaluated on {n1} samples and '
          f'row {l2!r} on {n2}; one column holds one sample count: evaluate them again with the '
          'same eval.num_samples (python -m launch.table ... rebuilds the changed rows)')
    if seen:
      out[c.key] = ', '.join(sorted(next(iter(seen.values()))))
    if name == 'nll':
      kinds = {}
      for label, r in res.items():
        for record in r['records'].values():
          kind = likelihood_kind(record)
          if kind:
            kinds.setdefault(kind == 'exact discrete likelihood', label)
      if len(kinds) > 1:
        raise cfg_lib.ConfigError(
            f'table {table.name}, column {c.key!r}: row {kinds[True]!r} has a discrete likelihood '
            f'(nats of a mass) and row {kinds[False]!r} a density (nats per unit volume of its '
            'data range): one column per unit; compare bits/dim (bpd) instead')
  return out
