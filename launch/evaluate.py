"""Evaluate a trained run and write its metrics as JSON.

    python -m launch.evaluate --workdir DIR [--out FILE] [--config.eval.metrics="('bpd',)" ...]

Writes DIR/eval_<step>.json (or FILE) with the metrics of config.eval.metrics and prints them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def main(argv=None) -> int:
  from jaxgen import config as cfg

  argv = sys.argv[1:] if argv is None else argv
  rest, overrides = cfg.split_overrides(argv)
  parser = argparse.ArgumentParser(prog='python -m launch.evaluate', description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--out', default='')
  parser.add_argument('--step', type=int, default=None)
  args = parser.parse_args(rest)

  from jaxgen import train

  try:
    trainer, state = train.load_run(args.workdir, overrides, args.step)
  except (cfg.ConfigError, FileNotFoundError, ValueError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  results = train.evaluate_state(trainer, state)
  results = {'step': int(state.step), **results}
  out = args.out or os.path.join(args.workdir, f'eval_{int(state.step)}.json')
  with open(out, 'w') as f:
    json.dump(results, f, indent=2)
  print(json.dumps(results, indent=2))
  print(f'Wrote {out}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
