"""Draw samples from a trained run: a grid picture (PNG) and the raw samples (.npz).

    python -m launch.sample --workdir DIR [--name NAME] [--config.sampling.solver=heun \
        --config.sampling.steps=50 --config.sampling.num_samples=64 ...]

Writes DIR/samples/NAME.png and DIR/samples/NAME.npz (default NAME: sample_<step>_<sampler>, the
sampler named by the family from config.sampling, e.g. the ODE solver). A score_sde run samples
classifier-guided with --config.sampling.classifier=CLASSIFIER_RUN (and classifier_scale, label;
`jaxgen.runtime.guidance`); a run without a sampler (a classifier) is refused in one line.
"""

from __future__ import annotations

import sys
import time


def _sample(args, run) -> None:
  from jaxgen.runtime import cli, guidance, samples

  if run.model.sample is None:
    raise cli.Failure(f'--workdir={args.workdir} is a {run.config.model.family} run: it has no '
                      'sampler (a classifier guides a score_sde run: launch.sample --workdir '
                      'SCORE_RUN --config.sampling.classifier=THIS_RUN)')
  draw = guidance.draw_for(run)  # None unless config.sampling.classifier names a classifier run
  name = args.name or guidance.sample_name(run)
  t0 = time.perf_counter()
  path = samples.write(run, args.workdir, run.step, name=name, draw=draw)
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
