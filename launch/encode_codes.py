"""Code grids of a trained VQ-VAE run: its training and test splits through the frozen encoder.

    python -m launch.encode_codes --workdir runs/vqvae_fashion [--out DIR] [--shard 10000] \
        [--batch 500] [--step N] [--force]

Writes the folder ``<workdir>/codes/`` (or DIR; `jaxgen.data.codes`): shards ``shard_00000.npz``
... of ``--shard`` code grids (int32 [m, h, w]) with their labels, the training split's first, each
with its record (SHA-256, code histogram, squared reconstruction error), and ``index.json`` last
(the source run, its step and config, K, the grid, and per split the codebook usage, perplexity
and reconstruction MSE). The encoder runs in jit calls of ``--batch`` images with the run's
evaluation parameters. Killed or stopped, the same command resumes to the bytes an uninterrupted
run writes; another command on an unfinished folder is refused (``--force`` starts over); a
finished folder is verified. Train a prior on it with ``--config.data.name=codes:<folder>`` (e.g.
experiments/vqvae/fashion_prior.py) and sample both stages with ``python -m launch.two_stage``.
Errors print one ``error:`` line and exit with 2; nothing is written then.
"""

from __future__ import annotations

import sys


def _arguments(parser) -> None:
  parser.add_argument('--out', default='', help='output folder (default WORKDIR/codes)')
  parser.add_argument('--shard', type=int, default=10000, help='code grids per shard file')
  parser.add_argument('--batch', type=int, default=500, help='images per jit-compiled call')
  parser.add_argument('--force', action='store_true',
                      help='restart an unfinished encoding made with other settings')


def _encode(args, run) -> None:
  from jaxgen.tools import encode_codes

  encode_codes.encode_codes(run, args.workdir, args.shard, args.batch, args.out, args.force)


def main(argv=None) -> int:
  from jaxgen.runtime import cli

  argv = sys.argv[1:] if argv is None else argv
  return cli.on_run(argv, 'python -m launch.encode_codes', __doc__, _encode, _arguments)


if __name__ == '__main__':
  sys.exit(main())
