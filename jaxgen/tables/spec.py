"""What a paper table is: runs x rows x columns, the paper's numbers and the claims it checks.

A table file ``experiments/tables/<name>.py`` defines ``get_table() -> Table``; ``python -m
launch.table FILE --scale smoke|laptop|paper`` builds it (`jaxgen.tables.plan`: trains
the missing runs, evaluates every row, `jaxgen.tables.report`: Markdown, CSV, a plot).

* A **run** (`RunSpec`) is one training: an experiment file with variants and ``--config.*``
  overrides, a reflow run trained on the pairs of another run (``pairs_from``), or a prior
  trained on the codes of a VQ-VAE run (``codes_from``; `jaxgen.tables.two_stage`). Runs are
  named by keys; the same key and training seed at the same scale is the same workdir
  (``<runs>/<scale>/<key>/seed<s>``), so tables that name one key share its trainings.
* A **row** (`Row`) evaluates one run with evaluation-time overrides (``sampling.*``, ``eval.*``,
  ``likelihood.*``: the keys `jaxgen.runtime.workdir.USE_KEYS` lets change on a trained run) and
  carries the paper's numbers for its columns.
* A **column** (`Column`) is one result key of ``launch.evaluate`` (``fd`` is ``eval/fd``; the
  provenance keys ``nfe``, ``num_params``, ``seed``, ``step`` are columns too).
* A **scale** (`Scale`) maps every run key to its `RunSpec` and adds the overrides that make the
  scale (``smoke``: a few steps; ``laptop``: digits or Fashion-MNIST on this CPU; ``paper``: the
  papers' CIFAR-10 configs), and may swap metric names (``fd`` -> ``fid`` at paper scale). It
  declares the **repeats**: training seeds (each run trains once per seed, ``config.seed``
  overridden, in its own workdir) and evaluation keys (each row of a sampling metric is
  evaluated with every key, ``eval.rng_keys``, on the same trained run; rows of likelihood
  metrics only repeat over seeds).
* A **claim** (`Claim`) is the paper's statement as `Compare`s of two rows in one column,
  each judged on the interval of its paired differences by `jaxgen.metrics.intervals.verdict`
  (`jaxgen.tables.cells`).
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Mapping, Optional, Union

SCALES = ('smoke', 'laptop', 'paper')


def slug(label: str) -> str:
  """A row label as a file name: '+' -> 'plus', other characters but letters, digits and '-_.'
  -> '_' (`Table` refuses two labels with one slug)."""
  label = label.replace('+', 'plus')
  return ''.join(ch if ch.isalnum() or ch in '-_.' else '_' for ch in label).strip('_')


def _frozen(mapping) -> Mapping:
  return types.MappingProxyType(dict(mapping or {}))


@dataclasses.dataclass(frozen=True)
class RunSpec:
  """One training. config: ``'experiments/<family>/<file>.py[:variant[,variant]]'`` (relative to
  the repository root); overrides: ``--config.*`` values at training; pairs_from: the key of a
  rectified-flow run of the same scale whose reflow pairs (``launch.reflow --num num_pairs``,
  with `pairs_overrides` for its sampler) this run trains on, starting from its weights
  (``train.init_from``; the experiment's ``reflow``/``reflow3``/``distill`` variant);
  codes_from: the key of a VQ-VAE run of the same scale whose codes (``launch.encode_codes``)
  this prior trains on (``data.name=codes:<that run>/codes``), its rows evaluated through the
  VQ-VAE's decoder (`jaxgen.tables.two_stage`); deq: the flags of ``launch.train_deq``
  (``{'steps': 300}``; empty: none), which trains a post-hoc variational dequantizer for the run
  once it is trained (rows read it with ``bpd_vdeq``); teacher_from: the key of a score-SDE run of
  the same scale that this run distils (its seed-s workdir is ``loss.teacher_run`` of this run's
  seed s; consistency distillation)."""
  config: str
  overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  pairs_from: str = ''
  num_pairs: int = 0
  pairs_overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  codes_from: str = ''
  deq: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  teacher_from: str = ''

  def __post_init__(self):
    object.__setattr__(self, 'overrides', _frozen(self.overrides))
    object.__setattr__(self, 'pairs_overrides', _frozen(self.pairs_overrides))
    object.__setattr__(self, 'deq', _frozen(self.deq))
    if self.deq and 'steps' not in self.deq:
      raise ValueError(f"RunSpec({self.config!r}): deq names launch.train_deq's steps "
                       "({'steps': N, ...}): the plan knows q is trained when it reaches them")
    if bool(self.pairs_from) != (self.num_pairs > 0):
      raise ValueError(f'RunSpec({self.config!r}): pairs_from and num_pairs > 0 go together')
    if self.pairs_from and self.codes_from:
      raise ValueError(f'RunSpec({self.config!r}): a run trains on pairs or on codes, not both')


@dataclasses.dataclass(frozen=True)
class Row:
  """One line of the table. run: a run key of every scale the row is in; overrides: evaluation
  overrides (``'sampling.steps': 50``); metrics: ``eval.metrics`` of this row (default: the
  table's); paper: column key -> the paper's number (or text, e.g. '-' for not reported);
  series: the plot's curve this row belongs to (rows of one series, in order, are its points);
  scales: the scales this row exists at (default all); scale_overrides: scale -> overrides
  applied after `overrides` at that scale (e.g. fewer steps at smoke); step: the checkpoint step
  to evaluate (``launch.evaluate --step``; None: the newest), or ``'best'``: per seed, the step
  of the lowest ``val/<train.validation_metric>`` the run's training logged (its validation
  split, ``data.validation``, which the plan requires; `jaxgen.runtime.validation`); guide: a run
  key of every scale the row is in whose workdir of the same seed guides this row's sampling
  (autoguidance, ``sampling.guide_run``; the row's own key with a ``sampling.guide_step``
  override: an earlier checkpoint; its weight: ``sampling.guide_weight``); reads: column key ->
  the metric of this row's evaluation shown in it (``{'bpd': 'bpd_vdeq'}``: a row of the
  variational dequantization bound in the bits/dim column; default: the column's)."""
  label: str
  run: str
  overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  metrics: tuple = ()
  paper: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  series: str = ''
  scales: tuple = ()
  scale_overrides: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
  step: Union[int, str, None] = None
  guide: str = ''
  reads: Mapping[str, str] = dataclasses.field(default_factory=dict)

  def __post_init__(self):
    if self.step is not None and self.step != 'best' and (
        not isinstance(self.step, int) or isinstance(self.step, bool) or self.step < 0):
      raise ValueError(f"Row({self.label!r}): step must be a checkpoint step >= 0, 'best' or None")
    repeats = [k for over in (self.overrides, *dict(self.scale_overrides).values())
               for k in over if k in ('eval.rng_keys', 'seed')]
    if repeats:
      raise ValueError(f'Row({self.label!r}): {repeats[0]} is set by the scale\'s repeats '
                       '(Scale.seeds, Scale.keys), not by a row')
    if any('sampling.guide_run' in over for over in (self.overrides,
                                                     *dict(self.scale_overrides).values())):
      raise ValueError(f"Row({self.label!r}): sampling.guide_run is a workdir of the plan's; "
                       'name the guide run by its key: Row(..., guide=KEY)')
    object.__setattr__(self, 'overrides', _frozen(self.overrides))
    object.__setattr__(self, 'paper', _frozen(self.paper))
    object.__setattr__(self, 'reads', _frozen(self.reads))
    object.__setattr__(self, 'scale_overrides',
                       _frozen({k: _frozen(v) for k, v in dict(self.scale_overrides).items()}))
    bad = [s for s in tuple(self.scales) + tuple(self.scale_overrides) if s not in SCALES]
    if bad:
      raise ValueError(f'Row({self.label!r}): unknown scales {bad}; scales are {SCALES}')

  def at(self, scale: str) -> bool:
    return not self.scales or scale in self.scales


@dataclasses.dataclass(frozen=True)
class Column:
  """key: a result key (``eval/<key>`` of launch.evaluate, or ``nfe``, ``num_params``, ``seed``,
  ``step``, ``sampling.<k>``: a sampling setting of the row, ``train/<k>``: the last training
  value of k the run logged, or ``training_minutes``: the run's training wall time from its
  metrics.jsonl, `jaxgen.tables.report.training_seconds`); better: 'lower' | 'higher' | ''
  (printed in the header); fmt: a format spec."""
  key: str
  label: str
  better: str = ''
  fmt: str = '.3f'

  def __post_init__(self):
    if self.better not in ('lower', 'higher', ''):
      raise ValueError(f'Column({self.key!r}): better must be lower, higher or empty')


@dataclasses.dataclass(frozen=True)
class Scale:
  """description: the data and length of this scale, one sentence (printed above the table);
  runs: run key -> RunSpec; overrides: evaluation overrides of every row; metrics: metric name
  -> the name used at this scale (``{'fd': 'fid'}``: the paper's Inception FID where the laptop
  uses the pinned classifier's FD; '' leaves the metric out); runtime: the measured time of this
  scale (table file's statement, printed in the report); samples: > 0 makes each row with a
  metric that can read a samples folder (its evaluator's ``Declaration.samples_folder``) draw that
  many samples first as a resumable chunk folder (launch.sample --num), which its evaluation
  reads; seeds: the training seeds (``config.seed`` of each run's workdir per seed); keys: the
  evaluation keys of rows with a sampling metric (``eval.rng_keys``; one samples folder per row
  and seed cannot vary them, so a scale with ``samples`` has one key)."""
  description: str
  runs: Mapping[str, RunSpec]
  overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  metrics: Mapping[str, str] = dataclasses.field(default_factory=dict)
  runtime: str = ''
  samples: int = 0
  seeds: tuple = (0,)
  keys: tuple = (0,)

  def __post_init__(self):
    for name in ('seeds', 'keys'):
      v = tuple(getattr(self, name))
      if not v or len(set(v)) != len(v) or not all(isinstance(k, int) and k >= 0 for k in v):
        raise ValueError(f'Scale({self.description[:30]!r}...): {name} must be distinct integers '
                         f'>= 0, at least one; got {v}')
      object.__setattr__(self, name, v)
    if self.samples and len(self.keys) > 1:
      raise ValueError(f'Scale({self.description[:30]!r}...): a scale with samples (one folder '
                       'per row and seed) has one evaluation key')
    object.__setattr__(self, 'runs', _frozen(self.runs))
    object.__setattr__(self, 'overrides', _frozen(self.overrides))
    object.__setattr__(self, 'metrics', _frozen(self.metrics))


@dataclasses.dataclass(frozen=True)
class Plot:
  """A curve per row series: `y` against `x` (column keys), log-scaled axes if `logx` / `logy`;
  the report adds the real-data floor of `y` where the table has one."""
  x: str
  y: str
  logx: bool = False
  logy: bool = False


@dataclasses.dataclass(frozen=True)
class Compare:
  """One inequality of a claim: row `a` ``claim`` ('<' or '>') `factor` x row `b` in column
  `column`, judged on the paired differences ``a - factor * b`` (same seed, same key; the same
  test examples where one draw of each holds per-example values)."""
  a: str
  b: str
  column: str
  claim: str = '<'
  factor: float = 1.0

  def __post_init__(self):
    if self.claim not in ('<', '>'):
      raise ValueError(f"Compare({self.a!r}, {self.b!r}): claim must be '<' or '>'")

  def text(self) -> str:
    times = '' if self.factor == 1 else f'{self.factor:g} x '
    return f'{self.a} {self.claim} {times}{self.b} ({self.column})'


@dataclasses.dataclass(frozen=True)
class Claim:
  """text: the paper's claim in one sentence; compares: the `Compare`s it consists of. It
  agrees when every comparison agrees, disagrees when one disagrees, else is not resolved."""
  text: str
  compares: tuple

  def __post_init__(self):
    object.__setattr__(self, 'compares', tuple(self.compares))
    if not self.compares or not all(isinstance(c, Compare) for c in self.compares):
      raise ValueError(f'Claim({self.text!r}): compares must be one or more Compare')


@dataclasses.dataclass(frozen=True)
class Table:
  """name: the file's stem; title; source: the paper and table its numbers come from; paper_setting:
  what the paper measured (data, sample count, metric); metrics: default ``eval.metrics`` of a
  row."""
  name: str
  title: str
  source: str
  paper_setting: str
  columns: tuple
  rows: tuple
  scales: Mapping[str, Scale]
  metrics: tuple = ()
  claims: tuple = ()
  plot: Optional[Plot] = None
  notes: str = ''

  def __post_init__(self):
    object.__setattr__(self, 'scales', _frozen(self.scales))
    labels = [r.label for r in self.rows]
    if len(set(labels)) != len(labels) or len({slug(x) for x in labels}) != len(labels):
      raise ValueError(f'table {self.name}: row labels repeat (or map to one file name)')
    for scale_name, scale in self.scales.items():
      if scale_name not in SCALES:
        raise ValueError(f'table {self.name}: unknown scale {scale_name!r}; scales are {SCALES}')
      for row in self.rows:
        if row.at(scale_name) and row.run not in scale.runs:
          raise ValueError(f'table {self.name}: row {row.label!r} names run {row.run!r}, which '
                           f'scale {scale_name!r} does not define')
        if row.at(scale_name) and row.guide and row.guide not in scale.runs:
          raise ValueError(f'table {self.name}: row {row.label!r} is guided by run '
                           f'{row.guide!r}, which scale {scale_name!r} does not define')
      for key, spec in scale.runs.items():
        if spec.pairs_from and spec.pairs_from not in scale.runs:
          raise ValueError(f'table {self.name}: run {key!r} takes pairs from {spec.pairs_from!r}'
                           f', which scale {scale_name!r} does not define')
        if spec.codes_from and spec.codes_from not in scale.runs:
          raise ValueError(f'table {self.name}: run {key!r} takes codes from {spec.codes_from!r}'
                           f', which scale {scale_name!r} does not define')
        if spec.teacher_from and spec.teacher_from not in scale.runs:
          raise ValueError(f'table {self.name}: run {key!r} distils {spec.teacher_from!r}, '
                           f'which scale {scale_name!r} does not define')
    columns = {c.key for c in self.columns}
    for claim in self.claims:
      for c in claim.compares:
        bad = [x for x in (c.a, c.b) if x not in labels] + ([c.column] if c.column not in
                                                              columns else [])
        if bad:
          raise ValueError(f'table {self.name}: claim {claim.text!r} names {bad}, which are no '
                           'rows or columns')
    for row in self.rows:
      for what, keys in (('paper numbers', row.paper), ('reads', row.reads)):
        unknown = [k for k in keys if k not in columns]
        if unknown:
          raise ValueError(f'table {self.name}: row {row.label!r} has {what} for {unknown}, '
                           'which are no columns')

  def rows_at(self, scale: str) -> tuple:
    return tuple(r for r in self.rows if r.at(scale))
