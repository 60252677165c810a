"""Command-line overrides of a run config: ``--config.a.b=value`` (or ``--config.a.b value``).

``split(argv)`` separates them from the other arguments; ``apply(config, {'optim.lr': '1e-4'})``
sets each dotted key to its text parsed with the schema default's type (``parse_value``). An
unknown key, a section given a value or a value given sub-keys raises `config.ConfigError` naming
the flag and what is allowed; the value's type and range are checked later by `config.validate`.
"""

from __future__ import annotations

import ast
from typing import Any, Mapping

from ml_collections import ConfigDict

from jaxgen.runtime import config as config_lib


def parse_value(text: str, default: Any) -> Any:
  """Parses a command-line override value using the schema default's type."""
  if isinstance(default, str):
    return text
  if isinstance(default, bool):
    low = text.lower()
    if low in ('true', '1', 'yes'):
      return True
    if low in ('false', '0', 'no'):
      return False
    return text  # validation reports the type error
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    return text


def apply(config: ConfigDict, overrides: Mapping[str, str]) -> ConfigDict:
  """Applies ``{'optim.lr': '1e-4'}`` style overrides (dotted keys, text values)."""
  schema = config_lib.base(config.model.family) if 'model' in config else config_lib.common()
  for dotted, text in overrides.items():
    node, sch = config, schema
    parts = dotted.split('.')
    for i, part in enumerate(parts):
      path = '.'.join(parts[:i + 1])
      if part not in sch:
        raise config_lib.ConfigError(
            f'--config.{dotted}: unknown key config.{path}.{config_lib.did_you_mean(part, sch)} '
            f'Allowed here: {", ".join(sorted(sch.keys()))}')
      if i < len(parts) - 1:
        if not isinstance(sch[part], ConfigDict):
          raise config_lib.ConfigError(f'--config.{dotted}: config.{path} is a value, not a section')
        node, sch = node[part], sch[part]
    leaf = parts[-1]
    if isinstance(sch[leaf], ConfigDict):
      raise config_lib.ConfigError(f'--config.{dotted}: config.{dotted} is a section; set one of its keys')
    value = parse_value(text, sch[leaf])
    with node.ignore_type():
      node[leaf] = value
  return config


def split(argv: list[str]) -> tuple[list[str], dict[str, str]]:
  """Separates ``--config.a.b=v`` (or ``--config.a.b v``) arguments from the others."""
  rest, overrides = [], {}
  i = 0
  while i < len(argv):
    arg = argv[i]
    if arg.startswith('--config.'):
      key = arg[len('--config.'):]
      if '=' in key:
        key, value = key.split('=', 1)
      elif i + 1 < len(argv):
        value = argv[i + 1]
        i += 1
      else:
        raise config_lib.ConfigError(f'{arg} needs a value: {arg}=VALUE')
      overrides[key] = value
    else:
      rest.append(arg)
    i += 1
  return rest, overrides
