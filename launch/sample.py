"""Draw samples from a trained run: a grid picture (PNG) and the raw samples (.npz).

    python -m launch.sample --workdir DIR [--name NAME] [--config.sampling.solver=heun \
        --config.sampling.steps=50 --config.sampling.num_samples=64 ...]

Writes DIR/samples/NAME.png and DIR/samples/NAME.npz (default NAME: sample_<step>_<sampler>, the
sampler named by the family from config.sampling, e.g. the ODE solver).
"""

from __future__ import annotations

import sys
import time


def _sample(args, run) -> None:
  from jaxgen.runtime import samples

  name = args.name or f'sample_{run.step}_{run.model.sampling_label(run.config.sampling)}'
  t0 = time.perf_counter()
  path = samples.write(run, args.workdir, run.step, name=name)
  if path:  # '' on the processes other than 0 of a multi-process run (they do not write)
    print(f'{path} ({run.config.sampling.num_samples} samples in {time.perf_counter() - t0:.1f}s '
          'incl. compilation)')


def main(argv=None) -> int:
  from jaxgen.runtime import cli

  argv = sys.argv[1:] if argv is None else argv
  return cli.on_run(argv, 'python -m launch.sample', __doc__, _sample,
                    lambda p: p.add_argument('--name', default=''))


if __name__ == '__main__':
  sys.exit(main())
