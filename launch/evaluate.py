"""Evaluate a trained run and write its metrics as JSON.

    python -m launch.evaluate --workdir DIR [--out FILE] [--config.eval.metrics="('bpd',)" ...]

Writes DIR/eval_<step>.json (or FILE) with the metrics of config.eval.metrics and prints them.
"""

from __future__ import annotations

import json
import os
import sys

from launch._workdir import open_run


def main(argv=None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  args, trainer, state = open_run(argv, 'python -m launch.evaluate', __doc__,
                                  lambda p: p.add_argument('--out', default=''))
  if trainer is None:
    return 2

  import jax

  from jaxgen.runtime import train

  results = train.evaluate_state(trainer, state)
  results = {'step': int(state.step), **results}
  out = args.out or os.path.join(args.workdir, f'eval_{int(state.step)}.json')
  if jax.process_index() == 0:  # several processes: every one evaluates, process 0 writes
    with open(out, 'w') as f:
      json.dump(results, f, indent=2)
    print(json.dumps(results, indent=2))
    print(f'Wrote {out}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
