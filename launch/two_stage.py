"""Two-stage samples of a VQ-VAE: codes from a prior run, decoded by the VQ-VAE that made them.

    python -m launch.two_stage --workdir PRIOR_RUN [--vqvae VQVAE_RUN] [--name NAME] \
        [--metrics fd,is] [--num-samples 1000] [--out FILE] [--step N] \
        [--config.sampling.num_samples=64 ...]

PRIOR_RUN trained on ``codes:<folder>`` (``launch.encode_codes``); the folder's index names the
VQ-VAE run and step that encoded it (``--vqvae`` another run, at its newest checkpoint). Writes
PRIOR_RUN/samples/NAME.png and .npz (``sampling.num_samples`` decoded images and their codes;
default NAME two_stage_<step>_<sampler>; `jaxgen.tools.two_stage`). With ``--metrics`` or
``--out`` it also writes PRIOR_RUN/eval_two_stage_<step>.json (or FILE) and prints it, as
launch.evaluate writes its results: ``eval/prior_bits_per_code`` (the prior's test NLL in bits per
code), ``eval/two_stage_bpd`` (the bound in bits/dim: decoder likelihood + prior over the codes,
test split), ``eval/uniform_prior_bpd``, the codes' test-split ``eval/recon_mse``, ``eval/usage``
and ``eval/perplexity``, the named sample metrics (fd, is, kid, precision, recall) of
``--num-samples`` decoded samples in the pinned classifier's features, and ``provenance`` (what
they are measured with; a table's row file: `jaxgen.tables.two_stage`). A prior not trained on
codes, an unfinished codes folder, or a VQ-VAE whose K or grid differs from the prior's data:
one ``error:`` line, exit 2, nothing written.
"""

from __future__ import annotations

import json
import sys


def _arguments(parser) -> None:
  parser.add_argument('--vqvae', default='', help="the VQ-VAE run (default: the codes' source)")
  parser.add_argument('--name', default='', help='sample file name (default two_stage_<step>_...)')
  parser.add_argument('--metrics', default='', help='comma-separated sample metrics, e.g. fd,is')
  parser.add_argument('--num-samples', type=int, default=0,
                      help='samples for --metrics (default: the prior run\'s eval.num_samples)')
  parser.add_argument('--out', default='',
                      help='the results file (default PRIOR_RUN/eval_two_stage_<step>.json)')


def _two_stage(args, run) -> None:
  import jax

  from jaxgen.runtime.cli import Failure
  from jaxgen.runtime.evaluators import classifier_features
  from jaxgen.store import paths
  from jaxgen.tools import two_stage

  metrics = tuple(m for m in args.metrics.split(',') if m)
  unknown = [m for m in metrics if m not in classifier_features.DECLARATION.names]
  if unknown:
    raise Failure(f'--metrics: {unknown} are not sample metrics of decoded images; choose from '
                  f'{", ".join(classifier_features.DECLARATION.names)}')
  pair = two_stage.open_pair(run, args.workdir, args.vqvae)
  results = None
  if metrics or args.out:   # every refusal of the metrics comes before anything is written
    results = two_stage.evaluate(pair, metrics, args.num_samples or run.config.eval.num_samples)
  png = two_stage.write_samples(pair, args.workdir, args.name)
  if jax.process_index() != 0:
    return
  print(png)
  if results is not None:
    plan = pair.index['plan']
    measured = {k: results.pop(k) for k in ('measured', 'evaluators') if k in results}
    results = {'step': run.step, **results, 'provenance': {
        'seed': run.config.seed, 'step': run.step, **measured,
        'vqvae': plan['source_workdir'] if not args.vqvae else paths.abspath(args.vqvae),
        'vqvae_step': pair.vqvae.step, 'codes_digest': pair.index['digest'],
        'sampling': run.config.sampling.to_dict()}}
    out = args.out or paths.join(args.workdir, f'eval_two_stage_{run.step}.json')
    paths.write_text(out, json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    print(f'Wrote {out}')


def main(argv=None) -> int:
  from jaxgen.runtime import cli

  argv = sys.argv[1:] if argv is None else argv
  return cli.on_run(argv, 'python -m launch.two_stage', __doc__, _two_stage, _arguments)


if __name__ == '__main__':
  sys.exit(main())
