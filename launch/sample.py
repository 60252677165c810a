"""Draw samples from a trained run: a grid picture (PNG) and the raw samples (.npz).

    python -m launch.sample --workdir DIR [--name NAME] [--config.sampling.solver=heun \
        --config.sampling.steps=50 --config.sampling.num_samples=64 ...]

Writes DIR/samples/NAME.png and DIR/samples/NAME.npz (default NAME: sample_<step>_<solver>).
"""

from __future__ import annotations

import sys
import time

from launch._workdir import open_run


def main(argv=None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  args, trainer, state = open_run(argv, 'python -m launch.sample', __doc__,
                                  lambda p: p.add_argument('--name', default=''))
  if trainer is None:
    return 2

  from jaxgen.runtime import train

  s = trainer.config.sampling
  label = s.get('method', '') or s.get('solver', '')
  if label in ('ode', '') and 'solver' in s:
    label = s.solver
  name = args.name or f'sample_{int(state.step)}_{label or "default"}'
  t0 = time.perf_counter()
  path = train.write_samples(trainer, state, args.workdir, int(state.step), name=name)
  if path:  # '' on the processes other than 0 of a multi-process run (they do not write)
    print(f'{path} ({s.num_samples} samples in {time.perf_counter() - t0:.1f}s incl. compilation)')
  return 0


if __name__ == '__main__':
  sys.exit(main())
