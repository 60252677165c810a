"""Colorize grey test images with a trained run of a family that offers colorization.

    python -m launch.colorize --workdir DIR [--num 8] [--name NAME] [--config.sampling.steps=200 ...]

The family's Model declares how (its ``'colorize'`` extra): score SDEs run the PC sampler with
replacement of the grey channel in an orthonormal grey/chroma colour basis (config.sampling's pc
keys). Needs a run on RGB images; 1-channel data and a family without the extra are refused in
one line, before anything is written.

Takes --num test images (the run's eval split), replaces each by its grey level (channel mean) and
colorizes it. Writes DIR/samples/NAME.png (default NAME colorize_<step>; rows: grey inputs,
colorized, originals) and NAME.npz (original, gray, colorized). Prints the mean squared error of
the colorized images against the originals.
"""

from __future__ import annotations

import sys


def _arguments(parser) -> None:
  parser.add_argument('--num', type=int, default=8, help='test images')
  parser.add_argument('--name', default='', help='file name (default colorize_<step>)')


def _colorize(args, run) -> None:
  from jaxgen.tools import colorize

  colorize.colorize(run, args.workdir, args.num, args.name)


def main(argv=None) -> int:
  from jaxgen.runtime import cli

  argv = sys.argv[1:] if argv is None else argv
  return cli.on_run(argv, 'python -m launch.colorize', __doc__, _colorize, _arguments)


if __name__ == '__main__':
  sys.exit(main())
