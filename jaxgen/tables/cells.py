"""A table cell from its repeats, and a claim's verdict from the paired differences of two rows.

A row at a scale is evaluated once per training seed s (its own workdir) and, for sampling
metrics, once per evaluation key k of that run: its **draws** in a column are ``{(s, k): value}``
(`draws`), and a likelihood evaluation also keeps each test example's value (``examples``).

The interval of a cell, or of the differences ``a - factor * b`` of two rows paired draw by draw
(same seed, same key), is taken over the outermost unit that was repeated (`over_units`), since
the keys of one run share its training and the test examples of one draw share both:

* two or more training seeds: Student t over the seeds of each seed's mean over its keys
  ('training seeds');
* one seed, two or more keys: Student t over the keys ('keys');
* one draw holding per-example values (a likelihood): mean +- 1.96 standard errors over the test
  examples, paired example by example for a difference ('test examples');
* else none: one number, no interval (and a claim on it is not resolved).

A claim's comparison is judged by `jaxgen.metrics.intervals.verdict` (its ``RULE``); a `Claim`
agrees when every comparison agrees, disagrees when one disagrees, else is not resolved ('not
measured' while a row it reads has no draws).
"""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

from jaxgen.metrics import intervals
from jaxgen.tables import spec as table_spec


def repeats(record: Optional[dict]) -> list:
  """The per-key results of a row file: its ``repeats``, or the file itself as key 0."""
  if record is None:
    return []
  return record.get('repeats') or [{**record, 'key': 0}]


def draws(records: Mapping[int, Optional[dict]], names: tuple) -> tuple[dict, dict]:
  """``({(seed, key): value}, {(seed, key): per-example array})`` of the first of `names`
  (``eval/<name>`` keys) each repeat of each seed's row file holds."""
  values, examples = {}, {}
  for seed, record in records.items():
    for rep in repeats(record):
      for name in names:
        v = rep.get('eval/' + name)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
          values[(seed, rep.get('key', 0))] = float(v)
          ex = (rep.get('examples') or {}).get(name)
          if ex is not None and len(ex) > 1:
            examples[(seed, rep.get('key', 0))] = np.asarray(ex, np.float64)
          break
  return values, examples


def over_units(values: Mapping[tuple, float],
               examples: Mapping[tuple, np.ndarray]) -> Optional[intervals.Interval]:
  """The 95% interval of the mean of `values` over the outermost repeated unit (module
  docstring); None for a single draw without per-example values."""
  seeds = sorted({s for s, _ in values})
  if len(seeds) >= 2:
    means = [np.mean([v for (s, _), v in values.items() if s == seed]) for seed in seeds]
    return intervals.t_interval(means, 'training seeds')
  if len(values) >= 2:
    return intervals.t_interval([values[k] for k in sorted(values)], 'keys')
  if len(values) == 1 and examples:
    return intervals.normal_interval(next(iter(examples.values())), 'test examples')
  return None


def example_error(examples: Mapping[tuple, np.ndarray]) -> Optional[tuple]:
  """``(standard error, n)`` over the test examples of the per-example values averaged over the
  draws (None without them, or when the draws hold different examples)."""
  arrays = list(examples.values())
  if not arrays or len({a.shape for a in arrays}) != 1:
    return None
  mean = np.mean(arrays, axis=0)
  return intervals.standard_error(mean), mean.size


def difference(a: tuple, b: tuple, factor: float = 1.0) -> Optional[intervals.Interval]:
  """The interval of ``a - factor * b`` over the draws both rows have (`draws` pairs, paired by
  seed and key; examples paired index by index); None if they share no draw."""
  (va, ea), (vb, eb) = a, b
  common = sorted(set(va) & set(vb))
  if not common:
    return None
  values = {k: va[k] - factor * vb[k] for k in common}
  examples = {k: ea[k] - factor * eb[k] for k in common
              if k in ea and k in eb and ea[k].shape == eb[k].shape}
  return over_units(values, examples)


def judge(compare: table_spec.Compare, row_draws: Mapping[str, Mapping[str, tuple]]) -> tuple:
  """``(verdict, why)`` of one comparison: 'agrees' / 'disagrees' / 'not resolved' by the rule,
  or 'not measured'; `row_draws`: row label -> column key -> `draws` pair."""
  a = row_draws.get(compare.a, {}).get(compare.column, ({}, {}))
  b = row_draws.get(compare.b, {}).get(compare.column, ({}, {}))
  if not a[0] or not b[0]:
    missing = [x for x, d in ((compare.a, a), (compare.b, b)) if not d[0]]
    return 'not measured', f'{compare.text()}: no {compare.column} of {", ".join(missing)} yet'
  if not set(a[0]) & set(b[0]):
    return 'not resolved', f'{compare.text()}: the rows share no seed and key'
  d = difference(a, b, compare.factor)
  if d is None:
    return 'not resolved', f'{compare.text()}: one draw, no interval'
  times = '' if compare.factor == 1 else f'{compare.factor:g} x '
  return (intervals.verdict(d, compare.claim),
          f'{compare.text()}: {compare.a} - {times}{compare.b} = {d.format()}')


def claim_verdict(verdicts) -> str:
  """A claim's verdict from its comparisons' (module docstring)."""
  verdicts = list(verdicts)
  if 'not measured' in verdicts:
    return 'not measured'
  if 'disagrees' in verdicts:
    return 'disagrees'
  return 'agrees' if all(v == 'agrees' for v in verdicts) else 'not resolved'
