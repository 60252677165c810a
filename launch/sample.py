"""Draw samples from a trained run: a grid picture (PNG) and the raw samples (.npz).

    python -m launch.sample --workdir DIR [--name NAME] [--config.sampling.solver=heun \
        --config.sampling.steps=50 --config.sampling.num_samples=64 ...]

Writes DIR/samples/NAME.png and DIR/samples/NAME.npz (default NAME: sample_<step>_<solver>).
"""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
  from jaxgen import config as cfg

  argv = sys.argv[1:] if argv is None else argv
  rest, overrides = cfg.split_overrides(argv)
  parser = argparse.ArgumentParser(prog='python -m launch.sample', description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--name', default='')
  parser.add_argument('--step', type=int, default=None, help='checkpoint step (default: newest)')
  args = parser.parse_args(rest)

  import time

  from jaxgen import train

  try:
    trainer, state = train.load_run(args.workdir, overrides, args.step)
  except (cfg.ConfigError, FileNotFoundError, ValueError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  s = trainer.config.sampling
  label = s.get('method', '') or s.get('solver', '')
  if label in ('ode', '') and 'solver' in s:
    label = s.solver
  name = args.name or f'sample_{int(state.step)}_{label or "default"}'
  t0 = time.perf_counter()
  path = train.write_samples(trainer, state, args.workdir, int(state.step), name=name)
  print(f'{path} ({s.num_samples} samples in {time.perf_counter() - t0:.1f}s incl. compilation)')
  return 0


if __name__ == '__main__':
  sys.exit(main())
