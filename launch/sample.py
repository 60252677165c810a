"""Draw samples from a trained run: a grid picture (PNG) and the raw samples (.npz), or many
samples in resumable chunks.

    python -m launch.sample --workdir DIR [--name NAME] [--config.sampling.solver=heun \
        --config.sampling.steps=50 --config.sampling.num_samples=64 ...]
    python -m launch.sample --workdir DIR --num 50000 [--chunk 1000] [--seed 0] [--force]

Without --num: writes DIR/samples/NAME.png and DIR/samples/NAME.npz (sampling.num_samples
samples; default NAME: sample_<step>_<sampler>, the sampler named by the family from
config.sampling, e.g. the ODE solver). With --num N: N samples in chunks of --chunk (a multiple of
the device count; each chunk one sharded jit call) written to the folder DIR/samples/NAME/
(chunk_*.npz, their SHA-256 records, plan.json, index.json and preview.png, the first chunk's first
64 samples; `jaxgen.tools.chunked`) with a progress line per chunk: a killed run rerun with the
same flags resumes to the same bytes; other settings on an existing folder are refused unless
--force. A score_sde run samples classifier-guided with --config.sampling.classifier=CLASSIFIER_RUN
(and classifier_scale, label; `jaxgen.tools.classifier_run`), in both modes; a score_sde or
rectified_flow run samples autoguided with --config.sampling.guide_run=GUIDE_RUN (and guide_step,
guide_weight; `jaxgen.tools.guide_run`); a run without a sampler
(a classifier) is refused in one line.
"""

from __future__ import annotations

import sys
import time


def _sample(args, run) -> None:
  from jaxgen.runtime import cli, samples
  from jaxgen.tools import chunked

  if run.model.sample is None:
    raise cli.Failure(f'--workdir={args.workdir} is a {run.config.model.family} run: it has no '
                      'sampler (a classifier guides a score_sde run: launch.sample --workdir '
                      'SCORE_RUN --config.sampling.classifier=THIS_RUN)')
  if args.num is None and (args.chunk is not None or args.seed or args.force):
    raise cli.Failure('--chunk, --seed and --force belong to chunked sampling: give --num N')
  settings = run.model.sampling_settings(run.config.sampling)  # the typed value, made once
  draw = None
  if run.config.sampling.get('classifier'):  # a score run guided by a classifier run
    from jaxgen.tools import classifier_run as guidance

    draw = guidance.draw_for(run)
  elif run.config.sampling.get('guide_run'):  # autoguidance by another run of the family
    from jaxgen.tools import guide_run

    draw = guide_run.draw_for(run)
  name = args.name or samples.default_name(run, args.workdir, settings=settings)
  if args.num is not None:
    chunked.write_chunks(run, args.workdir, args.num, 1000 if args.chunk is None else args.chunk,
                         seed=args.seed, name=name, force=args.force, draw=draw,
                         settings=settings)
    return
  t0 = time.perf_counter()
  path = samples.write(run, args.workdir, run.step, name=name, draw=draw, settings=settings)
  if path:  # '' on the processes other than 0 of a multi-process run (they do not write)
    print(f'{path} ({run.config.sampling.num_samples} samples in {time.perf_counter() - t0:.1f}s '
          'incl. compilation)')


def _arguments(parser) -> None:
  parser.add_argument('--name', default='')
  parser.add_argument('--num', type=int, default=None,
                      help='chunked sampling: this many samples into the folder samples/NAME/')
  parser.add_argument('--chunk', type=int, default=None,
                      help='samples per jit call and file (default 1000; a multiple of the '
                      'device count)')
  parser.add_argument('--seed', type=int, default=0,
                      help="chunked sampling: the sample key is fold_in(the run's, seed)")
  parser.add_argument('--force', action='store_true',
                      help='chunked sampling: delete an existing folder of other settings')


def main(argv=None) -> int:
  from jaxgen.runtime import cli

  argv = sys.argv[1:] if argv is None else argv
  return cli.on_run(argv, 'python -m launch.sample', __doc__, _sample, _arguments)


if __name__ == '__main__':
  sys.exit(main())
