"""Evaluate a trained run and write its metrics as JSON.

    python -m launch.evaluate --workdir DIR [--out FILE] [--config.eval.metrics="('bpd',)" ...]

Writes DIR/eval_<step>.json (or FILE) with the metrics of config.eval.metrics and prints them,
with ``provenance``: seed, step, parameter count, the sampler and its NFE, and what the metrics
are measured with (the evaluation classifier's or Inception weights' SHA-256, the likelihood's
quantization, each sample-quality metric's sample count and reference). ``repeats`` holds one
result per key of ``config.eval.rng_keys`` (the top-level metrics are the first key's;
`jaxgen.runtime.evaluate.evaluate_with_provenance`).

A run sampled with autoguidance (``--config.sampling.guide_run=GUIDE_RUN``, ``guide_step``,
``guide_weight``; `jaxgen.tools.guide_run`) is evaluated on its guided samples: the guide run is
opened and checked as `launch.sample` does (another family or data is refused in one line,
nothing written), and ``provenance['guide']`` records its workdir, step and weight. A score run
guided by a classifier run (``--config.sampling.classifier=CLASSIFIER_RUN``, ``classifier_scale``,
``label``; `jaxgen.tools.classifier_run`) is evaluated on its classifier-guided samples, and
``provenance['classifier']`` records the classifier's workdir, scale and label.

``--real-data`` measures the sample metrics of training examples instead of samples (each key:
``eval.num_samples`` distinct ones, against the same reference): the real-data floor a table
prints beside its rows.
"""

from __future__ import annotations

import json
import os
import sys


def _evaluate(args, run) -> None:
  import jax

  from jaxgen.runtime import evaluate
  from jaxgen.store import paths

  draw = guide = classifier = None
  if run.config.sampling.get('classifier') and not args.real_data:  # classifier-guided samples
    from jaxgen.tools import classifier_run

    draw = classifier_run.draw_for(run)
    classifier = classifier_run.settings(run.config.sampling)
  elif run.config.sampling.get('guide_run') and not args.real_data:  # autoguided samples
    from jaxgen.tools import guide_run

    guide = guide_run.open_guide(run)
    draw = guide_run.draw_for(run, guide)
  metrics, provenance = evaluate.evaluate_with_provenance(run, args.real_data, draw)
  if guide is not None:
    provenance['guide'] = guide_run.record(run, guide)
  if classifier is not None:
    provenance['classifier'] = {'run': classifier['classifier'],
                                'scale': classifier['classifier_scale'],
                                'label': classifier['label']}
  results = {'step': run.step, **metrics, 'provenance': provenance}
  out = args.out or paths.join(args.workdir, f'eval_{run.step}.json')
  if jax.process_index() == 0:  # several processes: every one evaluates, process 0 writes
    paths.write_text(out, json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    print(f'Wrote {out}')


def main(argv=None) -> int:
  from jaxgen.runtime import cli

  argv = sys.argv[1:] if argv is None else argv
  return cli.on_run(argv, 'python -m launch.evaluate', __doc__, _evaluate,
                    _arguments, writes=_writes_workdir, teacher_for=_teacher)


def _teacher(config):
  """A distilled run's frozen teacher (its ``eval/loss`` reads it), else None."""
  from jaxgen.tools import teacher_run

  return teacher_run.open_for(config)


def _arguments(parser) -> None:
  parser.add_argument('--out', default='')
  parser.add_argument('--real-data', action='store_true',
                      help='measure training examples instead of samples (the real-data floor)')


def _writes_workdir(args) -> bool:
  """Whether the results go into the workdir (then the command holds its lock)."""
  if not args.out:
    return True
  from jaxgen.store import paths

  if not (paths.is_local(args.out) and paths.is_local(args.workdir)):  # URLs: compare as text
    out, workdir = paths.abspath(args.out), paths.abspath(args.workdir)
    return out == workdir or out.startswith(workdir.rstrip('/') + '/')
  out, workdir = os.path.realpath(args.out), os.path.realpath(args.workdir)
  return os.path.commonpath([out, workdir]) == workdir


if __name__ == '__main__':
  sys.exit(main())
