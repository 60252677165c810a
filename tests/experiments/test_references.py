"""`experiments.tables.references`: every paper number has a source.

Facts: the module imports; every `Reference` names its paper and where in it the numbers are
(table / section), and says what they measure; its values are finite positive numbers; its
``unverified`` keys are keys of its values; every link is an https address.
"""

import math

from experiments.tables import references


def _references():
  return {k: v for k, v in vars(references).items() if isinstance(v, references.Reference)}


def test_every_reference_has_a_source():
  refs = _references()
  assert len(refs) >= 10
  for name, r in refs.items():
    assert r.source.paper.strip() and r.source.where.strip() and r.metric.strip(), name
    assert all(u.startswith('https://') for u in r.source.urls), name
    assert r.values, name
    assert all(isinstance(v, float) and math.isfinite(v) and v > 0 for v in r.values.values()), name
    assert r.unverified <= set(r.values), name
