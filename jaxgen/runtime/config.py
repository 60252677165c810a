"""Run configs: the common schema, a family's schema, variants, loading experiment files, validation.

An experiment file builds its config from the schema and only *sets* values:

    from jaxgen.runtime import config as cfg

    def get_config(arg=None):
      config = cfg.base('rectified_flow')      # common sections + the family's defaults()
      config.data.name = 'toy2d:moons'
      return cfg.select(config, arg, smoke=_smoke)

`validate` compares a config against `base(config.model.family)`: every key must exist there,
every value must have the schema's type (the elements of a tuple too), a few keys have a closed
set of values or a range, and every name of ``eval.metrics`` is declared by an evaluator
(`jaxgen.runtime.evaluators`) or by the family (its module's ``METRICS``); a family may add rules
across sections (``cross_checks``, e.g. a loss that needs a data source) and build its settings
values once (``check(config)`` raising ValueError: a sampler or grid that would fail only after
training). Errors name the key and say what is allowed; they are raised before anything is
written. Command-line overrides (``--config.a.b=v``) are `jaxgen.runtime.overrides`.
Importing this module does not import JAX.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import math
import os
from typing import Any, Callable, Mapping, Optional

import ml_collections

ConfigDict = ml_collections.ConfigDict


class ConfigError(ValueError):
  """A config key, type or value that cannot run; the message says how to fix it."""


def common() -> ConfigDict:
  """The sections every run has, with their defaults (the family adds model/loss/sampling)."""
  from jaxgen import data as data_lib

  c = ConfigDict()
  c.seed = 42
  c.data = data_lib.defaults()
  c.optim = ConfigDict(dict(
      optimizer='adam',     # 'adam' | 'adamw' | 'rmsprop'
      lr=2e-4,
      b1=0.9,
      b2=0.999,
      eps=1e-8,
      momentum=0.0,         # rmsprop only
      weight_decay=0.0,     # adamw only
      warmup_steps=0,       # linear warm-up from 0 to lr
      decay='none',         # 'none' | 'exponential' (lr * decay_rate**step) | 'cosine' (to 0 at train.steps)
      decay_rate=1.0,
      grad_clip=1.0,        # global-norm clipping; 0 disables
      ema_rate=0.999,       # EMA of the parameters kept in the state; 0 disables
      ema_warmup=False,     # rate after n updates: min(ema_rate, (1 + n) / (10 + n)) (TF's
                            # num_updates rule), so a short run's EMA forgets the init faster
      posthoc_ema=(),       # sigma_rels of power-function EMAs tracked for post-hoc EMA, e.g.
                            # (0.05, 0.1) (EDM2; jaxgen.runtime.posthoc); () = off
  ))
  c.train = ConfigDict(dict(
      steps=1000,
      batch_size=128,       # global batch, split over every device of every host
      log_every=100,
      checkpoint_every=1000,
      keep_checkpoints=3,
      skip_nonfinite=0,     # non-finite steps (NaN/inf loss, gradient or parameters; their
                            # updates are skipped) tolerated per launch before the run stops
      eval_every=0,         # 0: evaluate only at the end
      sample_every=0,       # 0: sample only at the end
      num_devices=0,        # 0: every device; n: the first n (tests, comparisons)
      fsdp=1,               # devices along the mesh's 'fsdp' axis (a divisor of the devices in
                            # use; 0: all): params, EMA and optimizer state split over them
                            # (jaxgen.runtime.sharding); 1: replicated (data parallel only)
      progress=True,        # console progress bar
      fast_compile=False,   # compile with most XLA optimizations off: a faster start, slower
                            # steps (smoke runs, debugging)
      init_from='',         # a workdir: a fresh run starts from the params of its newest
                            # checkpoint that it evaluates with (EMA if its eval.use_ema; same
                            # model.* config); '' = random init. A run with its own checkpoint
                            # resumes from that instead.
      posthoc_every=0,      # post-hoc EMA snapshots every this many steps (0: checkpoint_every)
      validation_metric='loss',  # data.validation > 0: 'loss', 'nll' or 'bpd' on it at each
                            # save, logged as val/<metric>; its best checkpoint is always kept
  ))
  c.eval = ConfigDict(dict(
      metrics=('loss',),    # names declared by jaxgen.runtime.evaluators (or the family)
      batch_size=256,
      num_batches=0,        # 0: the whole evaluation split
      num_samples=1024,     # samples drawn for sample-based metrics
      use_ema=True,
      dequant_draws=1,      # dequantization draws per example for likelihood metrics
      rng_keys=(0,),        # launch.evaluate's keys: key k evaluates with fold_in(the run's
                            # eval key, k) (k = 0: that key itself; training evaluates with 0);
                            # jaxgen.runtime.evaluate.evaluate_with_provenance
      dequantize=False,     # bpd of a continuous family on data.dequantize=False images: the
                            # evaluator dequantizes the evaluation batches itself (score_sde's
                            # reference: trains on k/(K-1), scores (k + u)/K); jaxgen.metrics.bpd
      inception_weights='', # fid / inception_score: the FID Inception weights .npz (converted by
                            # tools/convert_inception_weights.py from pytorch-fid's file)
      fid_stats='',         # fid: reference mu/sigma .npz from launch.fid_stats ('' = the run's
                            # evaluation split)
      samples_dir='',       # fid / inception_score: read the samples from this finished chunk
                            # folder (launch.sample --num N) instead of drawing them
      posthoc_sigma_rel=0.0,  # > 0: evaluate and sample with the post-hoc EMA of this sigma_rel,
                            # reconstructed from the run's snapshots (jaxgen.runtime.posthoc)
      reference='eval',     # what sample metrics compare with: 'eval' (the evaluation split) or
                            # 'train' (up to 10,000 training examples: a validation criterion
                            # that leaves the test images alone, e.g. to tune a sampler)
  ))
  return c


# Keys with a closed set of values (dotted path -> allowed). Families add theirs via `choices()`.
CHOICES = {
    'data.scale': ('unit', 'symmetric', 'levels', 'none'),
    'data.binarize': ('none', 'fixed', 'resample'),
    'eval.reference': ('eval', 'train'),
    'optim.optimizer': ('adam', 'adamw', 'rmsprop'),
    'optim.decay': ('none', 'exponential', 'cosine'),
}

# Keys with a range (dotted path -> (predicate, description)).
RANGES = {
    'train.steps': (lambda v: v >= 0, '>= 0'),
    'train.batch_size': (lambda v: v > 0, '> 0'),
    'train.log_every': (lambda v: v > 0, '> 0'),
    'train.checkpoint_every': (lambda v: v > 0, '> 0'),
    'train.keep_checkpoints': (lambda v: v > 0, '> 0'),
    'train.skip_nonfinite': (lambda v: v >= 0, '>= 0'),
    'train.eval_every': (lambda v: v >= 0, '>= 0'),
    'train.sample_every': (lambda v: v >= 0, '>= 0'),
    'train.num_devices': (lambda v: v >= 0, '>= 0'),
    'train.fsdp': (lambda v: v >= 0, '>= 0 (a divisor of the devices in use; 0: all; 1: off)'),
    'optim.lr': (lambda v: v > 0 and math.isfinite(v), 'a finite number > 0'),
    'optim.ema_rate': (lambda v: 0 <= v < 1, 'in [0, 1)'),
    'optim.posthoc_ema': (lambda v: len(set(v)) == len(v) and all(map(_sigma_rel_ok, v)),
                          'distinct sigma_rels in (0, 0.2887), e.g. (0.05, 0.1); () = off'),
    'train.posthoc_every': (lambda v: v >= 0, '>= 0 (0: train.checkpoint_every)'),
    'eval.posthoc_sigma_rel': (lambda v: v == 0 or _sigma_rel_ok(v),
                               '0 (off) or a sigma_rel in (0, 0.2887)'),
    'optim.grad_clip': (lambda v: v >= 0, '>= 0 (0 disables)'),
    'optim.warmup_steps': (lambda v: v >= 0, '>= 0'),
    'data.binarize_threshold': (lambda v: 0 < v < 1, 'in (0, 1)'),
    'data.validation': (lambda v: v >= 0, '>= 0 (a number of training examples; 0: none)'),
    'eval.batch_size': (lambda v: v > 0, '> 0'),
    'eval.dequant_draws': (lambda v: v > 0, '> 0'),
    'eval.rng_keys': (lambda v: len(v) > 0 and len(set(v)) == len(v)
                      and all(isinstance(k, int) and k >= 0 for k in v),
                      'a non-empty tuple of distinct integers >= 0, e.g. (0, 1)'),
}


def _sigma_rel_ok(v) -> bool:
  from jaxgen.distributions import power_ema

  return power_ema.valid_sigma_rel(v)


def base(family: str) -> ConfigDict:
  """The full schema of a run of `family`: common sections plus the family's `defaults()`."""
  from jaxgen.models import base as models_base

  return _schema(models_base.family_module(family), family)


def _schema(module, family: str) -> ConfigDict:
  c = common()
  fam = module.defaults()
  for key in fam.keys():
    c[key] = fam[key]
  if 'model' not in c:
    c.model = ConfigDict()
  c.model.family = family
  return c


def select(config: ConfigDict, arg: Optional[str], **variants: Callable[[ConfigDict], Any]):
  """Applies the variant named `arg` (``file.py:variant``); each variant mutates the config."""
  if 'smoke' not in variants:
    raise ConfigError('every experiment must define a `smoke` variant (cfg.select(..., smoke=fn))')
  if not arg:
    return config
  for name in arg.split(','):
    if name not in variants:
      raise ConfigError(
          f'unknown variant {name!r}; this experiment defines: {", ".join(sorted(variants))}')
    variants[name](config)
  return config


def load(spec: str) -> ConfigDict:
  """Loads ``path/to/experiment.py[:variant[,variant]]`` and returns its config (not validated).

  A file inside a package (folders with ``__init__.py``, like ``experiments/<family>/x.py``) is
  imported as a module of that package, so its package imports (``from experiments import
  common``) work from any working directory and with an absolute or relative path; the package is
  found through its own folder, without changing ``sys.path``. A file outside any package is run
  on its own. Variants apply left to right (`select`).
  """
  path, _, arg = spec.partition(':')
  module = load_module(path, 'get_config')
  try:
    return module.get_config(arg or None)
  except ConfigError:
    raise
  except Exception as e:  # noqa: BLE001  (ml_collections refuses a value of the wrong type, ...)
    raise ConfigError(_file_error(path, e)) from None


def load_module(path: str, function: str, what: str = 'experiment file',
                example: str = 'experiments/rectified_flow/toy2d.py[:smoke]'):
  """The module of the file `path` (see `load`: a file inside a package is imported as a module
  of it), which must define `function`; ConfigError naming the file (a `what`, e.g. 'table
  file', with an `example` path) otherwise."""
  import sys

  if os.path.isdir(path):
    raise ConfigError(f'{what} {path!r} is a folder, not a .py file (give a path such '
                      f'as {example})')
  if not os.path.isfile(path):
    raise ConfigError(f'{what} {path!r} does not exist (give a path such as '
                      f'{example})')
  if not path.endswith('.py'):
    raise ConfigError(f'{what} {path!r} is not a .py file (give a path such as '
                      f'{example})')
  folder, name = os.path.split(os.path.realpath(path))
  parts = [name[:-3]]
  while os.path.isfile(os.path.join(folder, '__init__.py')):
    folder, package = os.path.split(folder)
    parts.insert(0, package)
  try:
    if len(parts) == 1:
      mod_spec = importlib.util.spec_from_file_location('jaxgen_experiment_' + parts[0], path)
      module = importlib.util.module_from_spec(mod_spec)
      mod_spec.loader.exec_module(module)
    else:
      top, top_dir = parts[0], os.path.join(folder, parts[0])
      loaded = sys.modules.get(top)
      if loaded is None:
        pkg_spec = importlib.util.spec_from_file_location(
            top, os.path.join(top_dir, '__init__.py'), submodule_search_locations=[top_dir])
        loaded = importlib.util.module_from_spec(pkg_spec)
        sys.modules[top] = loaded
        pkg_spec.loader.exec_module(loaded)
      elif top_dir not in [os.path.realpath(p) for p in getattr(loaded, '__path__', [])]:
        raise ConfigError(f'{path}: another package named {top!r} is already imported (from '
                          f'{list(getattr(loaded, "__path__", []))}); load experiments of one '
                          f'{top!r} package per process')
      module = importlib.import_module('.'.join(parts))
  except ModuleNotFoundError as e:
    hint = ''
    if len(parts) == 1 and (e.name or '').split('.')[0] == 'experiments':
      hint = (' (a file that imports the experiments package, e.g. `from experiments import '
              'common`, must live inside experiments/)')
    raise ConfigError(f'{path}: {e}{hint}') from e
  except ConfigError:
    raise
  except Exception as e:  # noqa: BLE001  (a mistake in the experiment file: name its line)
    raise ConfigError(_file_error(path, e)) from None
  if not hasattr(module, function):
    raise ConfigError(f'{path} defines no {function}(' + ('arg' if function == 'get_config'
                                                          else '') + ')')
  return module


def _file_error(path: str, e: BaseException) -> str:
  """``'path:line: Type: message'`` for an exception raised by the experiment file `path`."""
  import traceback

  line = getattr(e, 'lineno', None) if isinstance(e, SyntaxError) else None
  if line is None:
    real = os.path.realpath(path)
    for frame in traceback.extract_tb(e.__traceback__):
      if os.path.realpath(frame.filename) == real:
        line = frame.lineno
  text = (e.msg if isinstance(e, SyntaxError) else str(e)).strip().splitlines() or ['']
  where = f'{path}:{line}' if line else path
  return f'{where}: {type(e).__name__}: {text[0]} (fix the experiment file)'


def did_you_mean(key: str, section) -> str:
  """`` Did you mean 'k'?`` for the key of `section` closest to a misspelt `key`, or ''."""
  close = difflib.get_close_matches(key, sorted(section.keys()), n=1)
  return f' Did you mean {close[0]!r}?' if close else ''


def _type_name(v) -> str:
  return type(v).__name__


def _coerce(path: str, value: Any, default: Any) -> Any:
  """Returns `value` converted to the schema type of `default`, or raises ConfigError."""
  if default is None:
    return value
  if isinstance(default, bool):
    if isinstance(value, bool):
      return value
  elif isinstance(default, int):
    if isinstance(value, int) and not isinstance(value, bool):
      return value
  elif isinstance(default, float):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
      return float(value)
  elif isinstance(default, str):
    if isinstance(value, str):
      return value
  elif isinstance(default, (tuple, list)):
    if isinstance(value, (tuple, list)):
      _check_elements(path, value, default)
      return tuple(value)
  else:
    return value
  raise ConfigError(f'config.{path}: expected {_type_name(default)} (like {default!r}), '
                    f'got {_type_name(value)} {value!r}')


def _check_elements(path: str, value, default) -> None:
  """Refuses an element of the tuple `value` whose type differs from the elements of a schema
  `default` whose elements share one type (an int stands for a float)."""
  kinds = {type(v) for v in default}
  if len(kinds) != 1:
    return
  kind = kinds.pop()
  for i, v in enumerate(value):
    ok = (isinstance(v, kind) and (kind is bool or not isinstance(v, bool))) or (
        kind is float and isinstance(v, int) and not isinstance(v, bool))
    if not ok:
      raise ConfigError(f'config.{path}: expected a tuple of {kind.__name__} (like {default!r}), '
                        f'got {_type_name(v)} {v!r} at position {i} of {tuple(value)!r}')


def _family_checks(module) -> tuple[Mapping[str, tuple], Mapping[str, tuple]]:
  choices = dict(CHOICES)
  ranges = dict(RANGES)
  if hasattr(module, 'choices'):
    choices.update(module.choices())
  if hasattr(module, 'ranges'):
    ranges.update(module.ranges())
  return choices, ranges


def validate(config: ConfigDict) -> ConfigDict:
  """Checks keys, types and values against the schema; returns a type-normalised copy."""
  if 'model' not in config or 'family' not in config.model:
    raise ConfigError('config.model.family is missing; build configs with jaxgen.runtime.config.base(family)')
  from jaxgen.models import base as models_base

  family = config.model.family
  module = models_base.family_module(family)
  schema = _schema(module, family)
  choices, ranges = _family_checks(module)
  out = ConfigDict()

  def walk(cfg: ConfigDict, sch: ConfigDict, dst: ConfigDict, prefix: str):
    for key in cfg.keys():
      path = prefix + key
      if key not in sch:
        where = 'config.' + prefix[:-1] if prefix else 'config'
        raise ConfigError(f'config.{path}: unknown key.{did_you_mean(key, sch)} Keys allowed in '
                          f'{where}: {", ".join(sorted(sch.keys()))}')
      value, default = cfg[key], sch[key]
      if isinstance(default, ConfigDict):
        if not isinstance(value, (ConfigDict, dict)):
          raise ConfigError(f'config.{path}: expected a section, got {_type_name(value)}')
        dst[key] = ConfigDict()
        walk(ConfigDict(value) if isinstance(value, dict) else value, default, dst[key], path + '.')
        continue
      value = _coerce(path, value, default)
      if path in choices and value not in choices[path]:
        raise ConfigError(f'config.{path}={value!r} is not allowed; choose one of: '
                          f'{", ".join(map(repr, choices[path]))}')
      if path in ranges and not ranges[path][0](value):
        raise ConfigError(f'config.{path}={value!r} is out of range: must be {ranges[path][1]}')
      dst[key] = value
    for key in sch.keys():  # keys the config lacks take the schema default
      if key not in cfg:
        dst[key] = sch[key]

  walk(config, schema, out, '')
  _check_coupling(family, choices, out)
  _check_metrics(module, out.eval.metrics)
  _check_validation_metric(out.train.validation_metric)
  _cross_checks(module, out)
  return out


def _check_coupling(family: str, choices: dict, config: ConfigDict) -> None:
  """Refuses a coupling (``data.x0.name`` or ``data.x0.coupling``) for a family that never reads
  ``batch['x0']``: one that declares no ``data.x0.*`` choice."""
  x0 = config.data.get('x0')
  if x0 is None or any(k.startswith('data.x0.') for k in choices):
    return
  for key, default in (('name', ''), ('coupling', 'independent')):
    if x0.get(key, default) != default:
      raise ConfigError(f'config.data.x0.{key}={x0[key]!r}: the {family} family does not read a '
                        "coupling's x0 (rectified_flow does): leave data.x0 at its defaults")


def _check_metrics(module, names) -> None:
  """Refuses a name of ``eval.metrics`` that no evaluator and not the family declares."""
  from jaxgen.runtime import evaluators

  known = evaluators.metric_names() + tuple(getattr(module, 'METRICS', ()))
  for name in names:
    if name not in known:
      close = difflib.get_close_matches(name, known, n=1)
      hint = f' Did you mean {close[0]!r}?' if close else ''
      raise ConfigError(f'config.eval.metrics: unknown metric {name!r}.{hint} Known: '
                        f'{", ".join(known)}')


def _check_validation_metric(name: str) -> None:
  """Refuses a ``train.validation_metric`` other than the loss or a likelihood (lower: better)."""
  from jaxgen.runtime import evaluators

  allowed = [m for d in evaluators.declarations() if d.likelihood or 'loss' in d.names
             for m in d.names]
  if name not in allowed:
    raise ConfigError(f'config.train.validation_metric={name!r} is not measured on the '
                      f'validation split; choose one of: {", ".join(map(repr, allowed))}')


def _cross_checks(module, config: ConfigDict) -> None:
  """Rules that tie keys of different sections together (a family's ``cross_checks(config)``
  returns a list of messages, each naming the keys and saying how to fix them)."""
  problems = module.cross_checks(config) if hasattr(module, 'cross_checks') else []
  if problems:
    raise ConfigError('; '.join(problems))
  if hasattr(module, 'check'):  # the family builds its settings values once (sampling, ...)
    import jax

    try:
      # Abstractly: validation must not start JAX's backends (a multi-process run initialises
      # jax.distributed after validating its config).
      jax.eval_shape(lambda: module.check(config))
    except ValueError as e:
      raise ConfigError(str(e)) from None


def to_json(config: ConfigDict) -> str:
  return json.dumps(config.to_dict(), indent=2, sort_keys=True, default=list)


def from_json(text: str) -> ConfigDict:
  """Inverse of `to_json` (lists become tuples, as the schema has them)."""

  def fix(d):
    if isinstance(d, dict):
      return {k: fix(v) for k, v in d.items()}
    if isinstance(d, list):
      return tuple(fix(v) for v in d)
    return d

  return validate(ConfigDict(fix(json.loads(text))))


def diff(a: ConfigDict, b: ConfigDict) -> list[str]:
  """Dotted keys whose values differ between two configs."""
  fa, fb = flatten(a.to_dict()), flatten(b.to_dict())
  return sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k))


def flatten(d: Mapping, prefix: str = '') -> dict[str, Any]:
  out = {}
  for k, v in d.items():
    if isinstance(v, Mapping):
      out.update(flatten(v, prefix + k + '.'))
    else:
      out[prefix + k] = tuple(v) if isinstance(v, list) else v
  return out
