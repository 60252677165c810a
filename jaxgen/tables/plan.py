"""What building a table at a scale takes, as commands, and running the ones not done yet.

`plan` turns a `table_spec.Table` at a scale into `Step`s, each one command of the launch CLIs,
once per training seed of the scale (``Scale.seeds``):

* ``train``: ``python -m launch.train --config SPEC --workdir RUNS/<scale>/<key>/seed<s>
  [--config.k=v] --config.seed=s`` (after the run it distils, ``teacher_from``, whose seed-s
  workdir is its ``--config.loss.teacher_run``);
  done when the workdir's newest checkpoint is at the config's ``train.steps``. An unfinished
  workdir resumes (launch.train does); a workdir of another config is refused there (one line).
* ``pairs``: ``python -m launch.reflow --workdir <source run> --num N``: the reflow pairs a
  ``pairs_from`` run trains on (seed s: the source's seed-s run); done when the pairs'
  ``index.json`` exists. The run itself then
  trains with ``--config.train.init_from=<source run>`` (pairs and weights from there).
* ``deq`` (a run with ``RunSpec.deq`` flags): ``python -m launch.train_deq --workdir W --flag v
  ... --evaluate 0``, after the run's training: Flow++'s q trained with the model frozen, which
  the run's rows read with ``bpd_vdeq`` (`jaxgen.runtime.trained_dequantizer`); done when q's
  newest checkpoint is at its ``steps``. A row of ``bpd_vdeq`` on a run that has no q (neither
  trained jointly, ``model.dequantizer.kind='variational'``, nor by a deq step) is refused.
* ``sample`` (scales with ``samples`` N, rows with a metric that can read a samples folder, its
  evaluator's ``Declaration.samples_folder``): ``python -m launch.sample --workdir W --num N
  --name <table>_<row> [sampling overrides]``, resumable chunks; the row's evaluation then reads
  them (``eval.samples_dir``). Done when the folder's index.json exists.
* ``evaluate``: ``python -m launch.evaluate --workdir W --out
  RUNS/<scale>/tables/<table>/<row>/seed<s>.json --config.eval.metrics=...
  --config.eval.rng_keys=KEYS [row overrides] [--step N]``: KEYS are the scale's keys for a row
  with a sampling metric (`samples_keys`), ``(0,)`` for likelihood rows; ``--step``: the row's
  checkpoint (`Row.step`). Done when that file exists, records this command and the step it
  should have evaluated (the row's, else the run's newest: a retrained run or a changed row is
  evaluated again). A row with ``step='best'`` (a run with a validation split, else refused)
  evaluates, per seed, the checkpoint of the lowest ``val/<metric>`` in that seed's
  metrics.jsonl (`choose_best`); until the run is trained its steps hold ``--step best``, which
  `jaxgen.tables.execute` resolves when it reaches them (`resolve`), and the row file's
  ``table_row`` says which step was chosen and why.
* ``codes``, and a prior's training and rows: a run with ``codes_from`` (`jaxgen.tables.two_stage`).

* the **real-data floor** (tables with a sample-quality column): ``launch.evaluate --real-data``
  on the first seed's run of the first row that samples real data's model (no ``pairs_from``,
  no ``codes_from``),
  with that row's ``eval.*`` settings, the table's sample-quality metrics and `FLOOR_KEYS`:
  each key draws ``eval.num_samples`` distinct training examples and scores them against the
  rows' reference (`floor_steps`; the row file of label `FLOOR`).

A column of a sample-quality metric holds one sample count: `plan` refuses rows of one column
evaluated with different ``eval.num_samples`` (ConfigError naming both rows).

The steps run one process each, in order (`jaxgen.tables.execute`). Paths are absolute.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Mapping, Optional

from jaxgen.models import autoguide
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import evaluators
from jaxgen.runtime import overrides as overrides_lib
from jaxgen.runtime import trained_dequantizer
from jaxgen.runtime import validation as validation_lib
from jaxgen.runtime import workdir as workdir_lib
from jaxgen.runtime import writer as writer_lib
from jaxgen.store import paths
from jaxgen.tables import spec as table_spec
from jaxgen.tables import two_stage

FLOOR = 'real data (floor)'   # the row label of a table's real-data floor
FLOOR_KEYS = tuple(range(10))  # its draws of training examples

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclasses.dataclass(frozen=True)
class Step:
  """kind: 'train' | 'pairs' | 'codes' | 'deq' | 'sample' | 'evaluate'; name: the run key or row
  label; argv: the command after ``python``; done: nothing left to do; out: the row file
  (evaluate); inception: an evaluation with a metric that needs ``eval.inception_weights``;
  choose: ``(workdir, val key, train.steps)`` while argv holds ``--step best`` (`resolve`);
  chosen: why its ``--step``."""
  kind: str
  name: str
  argv: tuple
  done: bool
  out: str = ''
  inception: bool = False
  choose: tuple = ()
  chosen: str = ''

  def command(self) -> str:
    import shlex
    return 'python ' + ' '.join(shlex.quote(a) for a in self.argv)


def text(value: Any) -> str:
  """A config value as ``--config.k=`` text that `overrides.parse_value` reads back."""
  if isinstance(value, str):
    return value
  return repr(tuple(value) if isinstance(value, list) else value)


def flags(overrides: Mapping[str, Any]) -> list[str]:
  return [f'--config.{k}={text(v)}' for k, v in overrides.items()]


def workdir(runs: str, scale: str, key: str, seed: int = 0) -> str:
  return os.path.join(os.path.abspath(runs), scale, key, f'seed{seed}')


def row_file(runs: str, scale: str, table: str, label: str, seed: int = 0) -> str:
  return os.path.join(os.path.abspath(runs), scale, 'tables', table, table_spec.slug(label),
                      f'seed{seed}.json')


def _config_path(spec: str) -> str:
  path, _, variant = spec.partition(':')
  return (path if os.path.isabs(path) else os.path.join(ROOT, path)) + (':' + variant if variant
                                                                        else '')


def train_overrides(runs: str, scale: str, spec: table_spec.RunSpec, seed: int = 0) -> dict:
  out = dict(spec.overrides)
  if spec.pairs_from:
    out['train.init_from'] = workdir(runs, scale, spec.pairs_from, seed)
  if spec.codes_from:
    out.update(two_stage.train_overrides(workdir(runs, scale, spec.codes_from, seed)))
  if spec.teacher_from:
    out['loss.teacher_run'] = workdir(runs, scale, spec.teacher_from, seed)
  out['seed'] = seed
  return out


def train_config(runs: str, scale: str, spec: table_spec.RunSpec, seed: int = 0):
  """The validated training config of `spec` (ConfigError for a bad experiment or override)."""
  overrides = {k: text(v) for k, v in train_overrides(runs, scale, spec, seed).items()}
  return cfg_lib.validate(overrides_lib.apply(cfg_lib.load(_config_path(spec.config)), overrides))


def trained(path: str, steps: int) -> bool:
  return paths.exists(paths.join(path, workdir_lib.CONFIG)) and (
      workdir_lib.latest_step(path) or 0) >= steps


def sampling_metrics(metrics) -> tuple:
  """The names of `metrics` measured on samples drawn from the model: those of an evaluator
  that draws samples, and a family's own metrics (no evaluator declares them)."""
  declared = {m: d for d in evaluators.declarations() for m in d.names}
  return tuple(m for m in metrics if m not in declared or declared[m].samples)


def samples_keys(table: table_spec.Table, scale: str, row: table_spec.Row) -> tuple:
  """The evaluation keys of `row`: the scale's where it measures a sampling metric, else
  ``(0,)`` (a likelihood repeats over training seeds only)."""
  metrics = evaluation_overrides(table, scale, row, keys=False)['eval.metrics']
  return table.scales[scale].keys if sampling_metrics(metrics) else (0,)


def evaluation_overrides(table: table_spec.Table, scale: str, row: table_spec.Row,
                         keys: bool = True) -> dict:
  """The evaluation overrides of `row` at `scale`: the scale's, the row's, the row's at this
  scale, then ``eval.metrics`` (the row's or the table's, renamed by the scale) and
  ``eval.rng_keys`` (`samples_keys`; left out with ``keys=False``)."""
  s = table.scales[scale]
  out = {**s.overrides, **row.overrides, **row.scale_overrides.get(scale, {})}
  metrics = tuple(n for n in (s.metrics.get(m, m) for m in (row.metrics or table.metrics)) if n)
  out['eval.metrics'] = metrics
  if keys:
    out['eval.rng_keys'] = samples_keys(table, scale, row)
  return out


def guide_overrides(runs: str, scale: str, row: table_spec.Row, seed: int = 0) -> dict:
  """``{'sampling.guide_run': <the guide run's seed-`seed` workdir>}`` for a row with a guide
  (`Row.guide`), else {}."""
  return {'sampling.guide_run': workdir(runs, scale, row.guide, seed)} if row.guide else {}


def check_evaluation(config, overrides: Mapping[str, Any], where: str):
  """The evaluation config of a run of `config` with `overrides`, or ConfigError naming `where`
  for overrides that launch.evaluate would refuse: keys that change the trained model, bad
  values, unknown metrics."""
  texts = {k: text(v) for k, v in overrides.items()}
  try:
    workdir_lib.check_overrides(texts)
    return cfg_lib.validate(overrides_lib.apply(cfg_lib.ConfigDict(config.to_dict()), texts))
  except cfg_lib.ConfigError as e:
    raise cfg_lib.ConfigError(f'{where}: {e}') from None


def check_sample_counts(table: table_spec.Table, scale: str, counts: Mapping[str, tuple]) -> None:
  """Refuses (ConfigError) a column of a sampling metric whose rows draw different numbers of
  samples; `counts`: row label -> (its metrics, its ``eval.num_samples``)."""
  s = table.scales[scale]
  for column in table.columns:
    name = s.metrics.get(column.key, column.key)
    seen = {}
    for label, (metrics, n) in counts.items():
      if name in metrics and name in sampling_metrics((name,)):
        seen.setdefault(n, label)
    if len(seen) > 1:
      (n1, a), (n2, b) = list(seen.items())[:2]
      raise cfg_lib.ConfigError(
          f'table {table.name}, column {column.key!r}: row {a!r} draws eval.num_samples={n1} '
          f'and row {b!r} {n2}; one column holds one sample count: give these rows the same '
          'eval.num_samples (or put them in separate columns)')


def choose_best(path: str, key: str, steps: int) -> tuple[int, str]:
  """``(step, why)``: the checkpoint of the trained run `path` with the lowest `key`
  (``val/<metric>``) among its checkpoints, and ``'best val/bpd 1.234 at step 800 of 1500'``."""
  found = validation_lib.best(writer_lib.read_metrics(path), key,
                              workdir_lib.checkpoint_steps(path))
  if found is None:
    raise cfg_lib.ConfigError(f'{path}: no {key} is logged at a checkpoint it has, so the '
                              "checkpoint of a row with step='best' cannot be chosen; retrain it "
                              'with data.validation > 0 in a new --runs folder')
  step, value = found
  return step, f'best {key} {value:.4g} at step {step} of {steps}'


def resolve(step: Step) -> Step:
  """`step` with ``--step best`` replaced by the run's best step (`choose_best`), once trained."""
  if not step.choose:
    return step
  n, why = choose_best(*step.choose)
  argv = list(step.argv)
  argv[argv.index('--step') + 1] = str(n)
  return dataclasses.replace(step, argv=tuple(argv), choose=(), chosen=why)


def deq_step(path: str, flags_: Mapping[str, Any], name: str) -> Step:
  """The ``deq`` step of the run `path` (module docstring); `flags_`: launch.train_deq's."""
  argv = ('-m', 'launch.train_deq', '--workdir', path,
          *(a for k, v in flags_.items() for a in (f'--{k}', str(v))), '--evaluate', '0')
  q = workdir_lib.latest_step(trained_dequantizer.folder(path))
  return Step('deq', name, argv, q is not None and q >= int(flags_['steps']))


def _row_done(out: str, argv: tuple, path: str, step: Optional[int]) -> bool:
  record = read_row(out)
  if record is None:
    return False
  return (record.get('table_row', {}).get('argv') == list(argv)
          and record.get('step') == (workdir_lib.latest_step(path) if step is None else step))


def read_row(out: str) -> Optional[dict]:
  if not os.path.exists(out):
    return None
  try:
    with open(out) as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


def plan(table: table_spec.Table, scale: str, runs: str,
         inception: Optional[Mapping[str, str]] = None) -> list:
  """The steps of `table` at `scale`, runs under `runs` (module docstring), in order: each run's
  training (after its pairs, after their source's training), then every row's evaluation.
  `inception`: ``eval.inception_weights`` / ``eval.fid_stats`` values for the rows with Inception
  metrics."""
  if scale not in table.scales:
    raise cfg_lib.ConfigError(f'--scale={scale}: table {table.name} defines scales '
                              f'{", ".join(table.scales)}')
  s = table.scales[scale]
  needed: list[str] = []

  def need(key):
    spec = s.runs[key]
    for source in (spec.pairs_from, spec.codes_from, spec.teacher_from):
      if source:
        need(source)
    if key not in needed:
      needed.append(key)

  for row in table.rows_at(scale):
    need(row.run)
    if row.guide:
      need(row.guide)
  steps, configs = [], {}
  for seed in s.seeds:
    paired, encoded = set(), {}
    for key in needed:
      spec = s.runs[key]
      path = workdir(runs, scale, key, seed)
      config = configs[key] = train_config(runs, scale, spec, seed)
      if spec.pairs_from and spec.pairs_from not in paired:
        paired.add(spec.pairs_from)
        src = workdir(runs, scale, spec.pairs_from, seed)
        pairs = os.path.join(src, 'reflow', 'pairs')
        argv = ('-m', 'launch.reflow', '--workdir', src, '--num', str(spec.num_pairs),
                *flags(spec.pairs_overrides))
        steps.append(Step('pairs', f'{spec.pairs_from} seed {seed}', argv,
                          os.path.exists(os.path.join(pairs, 'index.json'))))
      done = trained(path, config.train.steps)
      if spec.codes_from:
        vqvae = workdir(runs, scale, spec.codes_from, seed)
        if spec.codes_from not in encoded:   # (done: the codes of the VQ-VAE's newest step)
          argv, encoded[spec.codes_from] = two_stage.codes_step(
              vqvae, configs[spec.codes_from].train.steps)
          steps.append(Step('codes', f'{spec.codes_from} seed {seed}', argv,
                            encoded[spec.codes_from]))
        done = done and encoded[spec.codes_from] and two_stage.on_codes(path, vqvae)
      argv = ('-m', 'launch.train', '--config', _config_path(spec.config), '--workdir', path,
              *flags(train_overrides(runs, scale, spec, seed)))
      steps.append(Step('train', f'{key} seed {seed}', argv, done))
      if spec.deq:
        steps.append(deq_step(path, spec.deq, f'{key} seed {seed}'))
  counts = {}
  for row in table.rows_at(scale):
    over = {**evaluation_overrides(table, scale, row), **guide_overrides(runs, scale, row)}
    where = f'table {table.name}, row {row.label!r}'
    evaluated = check_evaluation(configs[row.run], over, where)
    if row.guide and (bad := autoguide.mismatch(configs[row.run], configs[row.guide],
                                                f'{where}, guide={row.guide!r}')):
      raise cfg_lib.ConfigError(bad)
    counts[row.label] = (over['eval.metrics'], int(evaluated.eval.num_samples))
    if 'bpd_vdeq' in over['eval.metrics'] and not s.runs[row.run].deq and configs[
        row.run].model.get('dequantizer', {}).get('kind', 'uniform') != 'variational':
      raise cfg_lib.ConfigError(f"{where}: bpd_vdeq reads a trained variational dequantizer, and "
                                f'run {row.run!r} has none: give its RunSpec deq (launch.'
                                "train_deq's flags) or train it with model.dequantizer.kind="
                                'variational')
    if row.step == 'best' and not configs[row.run].data.validation:
      raise cfg_lib.ConfigError(f"{where}: step='best' chooses by the run's validation split, and "
                                f'run {row.run!r} has none (data.validation=0): give the run '
                                '--config.data.validation=N, or choose a step')
    if isinstance(row.step, int) and row.step > configs[row.run].train.steps:
      raise cfg_lib.ConfigError(f'{where}: step={row.step} is past the run\'s train.steps='
                                f'{configs[row.run].train.steps}: choose a step it saves')
  check_sample_counts(table, scale, counts)
  for seed in s.seeds:
    for row in table.rows_at(scale):
      steps += _row_steps(table, scale, runs, row, seed, inception, configs[row.run])
  return steps + floor_steps(table, scale, runs, inception)


def floor_metrics(table: table_spec.Table, scale: str) -> tuple:
  """The sample-quality metrics of `table`'s columns at `scale` (renamed by the scale) that some
  row evaluates."""
  s = table.scales[scale]
  evaluated = {m for row in table.rows_at(scale)
               for m in evaluation_overrides(table, scale, row, keys=False)['eval.metrics']}
  declared = {m: d for d in evaluators.declarations() for m in d.names}
  names = [s.metrics.get(c.key, c.key) for c in table.columns]
  return tuple(m for m in names if m in evaluated and m in declared and declared[m].samples)


def floor_steps(table: table_spec.Table, scale: str, runs: str,
                inception: Optional[Mapping[str, str]] = None) -> list:
  """The real-data floor's evaluation (module docstring), or none for a table without a
  sample-quality column (or whose sampling rows all train on reflow pairs)."""
  s = table.scales[scale]
  metrics = floor_metrics(table, scale)
  rows = [r for r in table.rows_at(scale) if not (s.runs[r.run].pairs_from or
                                                  s.runs[r.run].codes_from) and
          set(metrics) & set(evaluation_overrides(table, scale, r, keys=False)['eval.metrics'])]
  if not metrics or not rows:
    return []
  row, seed = rows[0], s.seeds[0]
  path = workdir(runs, scale, row.run, seed)
  over = {k: v for k, v in evaluation_overrides(table, scale, row, keys=False).items()
          if k.startswith('eval.')}
  over.update({'eval.metrics': metrics, 'eval.rng_keys': FLOOR_KEYS})
  needs_inception = any(d.inception_weights for d, _ in evaluators.declaring(metrics))
  if needs_inception:
    over.update(inception or {})
  out = row_file(runs, scale, table.name, FLOOR, seed)
  argv = ('-m', 'launch.evaluate', '--workdir', path, '--out', out, '--real-data', *flags(over))
  return [Step('evaluate', f'{FLOOR} seed {seed}', argv, _row_done(out, argv, path, None), out,
               needs_inception)]


def _row_steps(table, scale, runs, row, seed, inception, config) -> list:
  """The evaluation of `row` on the seed-`seed` run of `config` (after its samples folder, if
  any); ``step='best'`` is chosen now if the run is trained, else left to `resolve`."""
  s = table.scales[scale]
  path = workdir(runs, scale, row.run, seed)
  at, choose, chosen = row.step, (), ''
  if at == 'best':
    choose = (path, validation_lib.key(config), config.train.steps)
    if trained(path, config.train.steps):
      (at, chosen), choose = choose_best(*choose), ()
  out = row_file(runs, scale, table.name, row.label, seed)
  over = {**evaluation_overrides(table, scale, row), **guide_overrides(runs, scale, row, seed)}
  needs = [d for d, _ in evaluators.declaring(over['eval.metrics'])]
  needs_inception = any(d.inception_weights for d in needs)
  if needs_inception:
    over.update(inception or {})
  steps = []
  if s.runs[row.run].codes_from:   # decoded samples of the prior, through the VQ-VAE
    argv = two_stage.evaluate_argv(
        path, out, over['eval.metrics'],
        flags({k: v for k, v in over.items() if k not in ('eval.metrics', 'eval.rng_keys')}), at)
    return [Step('evaluate', f'{row.label} seed {seed}', argv,
                 not choose and _row_done(out, argv, path, at), out, False, choose, chosen)]
  if s.samples and any(d.samples_folder for d in needs):
    name = f'{table.name}_{table_spec.slug(row.label)}'
    folder = os.path.join(path, 'samples', name)
    argv = ('-m', 'launch.sample', '--workdir', path, '--num', str(s.samples), '--name', name,
            *flags({k: v for k, v in over.items() if k.startswith('sampling.')}),
            *(('--step', str(at)) if at is not None else ()))
    steps.append(Step('sample', f'{row.label} seed {seed}', argv,
                      os.path.exists(os.path.join(folder, 'index.json')), choose=choose,
                      chosen=chosen))
    over['eval.samples_dir'] = folder
  argv = ('-m', 'launch.evaluate', '--workdir', path, '--out', out, *flags(over),
          *(('--step', str(at)) if at is not None else ()))
  done = not choose and _row_done(out, argv, path, at)
  steps.append(Step('evaluate', f'{row.label} seed {seed}', argv, done, out, needs_inception,
                    choose, chosen))
  return steps
