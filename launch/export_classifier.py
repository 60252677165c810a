"""Export a trained clean classifier run as a pinned evaluation asset
(`jaxgen.runtime.evaluators.classifier_asset`).

    python -m launch.export_classifier --workdir runs/clf_digits_clean \
        --out jaxgen/assets/classifier_digits.npz

Writes OUT (the run's evaluation parameters, EMA if its eval.use_ema, float32, a byte-deterministic
.npz) and the entry of the run's data in OUT's folder's classifiers.json (SHA-256 of OUT, network
config, data scaling, test accuracy on the whole evaluation split, this command). Reads the run
only; a run that is no clean classifier (model.noise='none') is refused in one line.
"""

from __future__ import annotations

import json
import sys


def _export(args, run) -> None:
  from jaxgen.runtime.evaluators import classifier_asset

  command = f'python -m launch.export_classifier --workdir {args.workdir} --out {args.out}'
  if args.experiment:
    command = (f'python -m launch.train --config {args.experiment} --workdir {args.workdir} && '
               + command)
  entry = classifier_asset.export(run, args.out, command)
  print(json.dumps({k: entry[k] for k in ('file', 'sha256', 'bytes', 'num_params',
                                          'test_accuracy', 'test_examples', 'step')}))


def main(argv=None) -> int:
  from jaxgen.runtime import cli

  def arguments(p):
    p.add_argument('--out', required=True, help='the .npz to write (e.g. jaxgen/assets/...)')
    p.add_argument('--experiment', default='', help='the experiment spec that trained the run '
                   '(recorded in the manifest), e.g. experiments/classifier/digits.py:clean')

  argv = sys.argv[1:] if argv is None else argv
  return cli.on_run(argv, 'python -m launch.export_classifier', __doc__, _export, arguments,
                    writes=lambda args: False)


if __name__ == '__main__':
  sys.exit(main())
