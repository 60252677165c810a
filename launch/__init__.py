"""Command-line entry points: ``python -m launch.<verb>`` with verb train | sample | evaluate |
reflow | encode_codes | two_stage | posthoc_ema | inpaint | colorize | table | fid_stats |
export_classifier | solvers.

Importing this package first checks that the running interpreter can run jaxgen (Python >= 3.12
with jax, flax, optax, orbax and ml_collections installed); otherwise it prints one ``error:``
line naming that interpreter and the fix, and exits with status 2.
"""

import importlib.util
import sys

_NEEDS = ('jax', 'flax', 'optax', 'orbax', 'ml_collections')


def _missing() -> list[str]:
  if sys.version_info < (3, 12):
    return [f'Python >= 3.12 (it is {sys.version.split()[0]})']
  return [name for name in _NEEDS if importlib.util.find_spec(name) is None]


if _missing():
  print(f'error: {sys.executable} cannot run jaxgen: it lacks {", ".join(_missing())}. Run '
        '`bash launch/setup.sh` once, then `source .venv/bin/activate` (once per shell), or call '
        '`.venv/bin/python -m launch...`', file=sys.stderr)
  sys.exit(2)
