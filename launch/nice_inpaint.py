"""Inpaint test images with a trained NICE run and write the picture (PNG) and arrays (.npz).

    python -m launch.nice_inpaint --workdir runs/nice_fm [--masks bottom_half,random] [--num 8] \
        [--config.sampling.inpaint_steps=1000 --config.sampling.inpaint_noise=1.0 ...]

For each mask kind (jaxgen.models.nice.inpaint.image_masks: bottom_half, top_half, left_half, right_half,
center, odd_columns, random = 75% of the pixels hidden) it takes ``--num`` test images (the run's
eval split, dequantized, in [0, 1]), hides the masked pixels and fills them by projected gradient
ascent on NICE's exact log-likelihood (the paper's section 5.2; schedule from config.sampling:
a_i = inpaint_lr / (inpaint_lr_offset + i), Gaussian noise of std inpaint_noise, hidden pixels
started at U(0, 1) and clipped to [0, 1]).

Writes DIR/samples/inpaint_<step>.png: for each mask kind three rows -- the originals, the
observed pixels (hidden ones drawn mid-grey), the inpainting -- and DIR/samples/inpaint_<step>.npz
(original, mask, inpainted, log_prob trace). Prints the mean log-likelihood (nats per image) of the
originals, of the starting point and of the inpaintings per mask kind.
"""

from __future__ import annotations

import sys


def _arguments(parser) -> None:
  parser.add_argument('--masks', default='', help='comma-separated mask kinds '
                      '(default: config.sampling.inpaint_mask,random)')
  parser.add_argument('--num', type=int, default=8, help='test images per mask kind')
  parser.add_argument('--keep', type=float, default=0.25, help="'random': fraction observed")
  parser.add_argument('--name', default='')


def _inpaint(args, run) -> None:
  from jaxgen.runtime import inpaint

  kinds = [k for k in args.masks.split(',') if k]
  inpaint.inpaint(run, args.workdir, kinds, args.num, args.keep, args.name)


def main(argv=None) -> int:
  from jaxgen.runtime import cli

  argv = sys.argv[1:] if argv is None else argv
  return cli.on_run(argv, 'python -m launch.nice_inpaint', __doc__, _inpaint, _arguments)


if __name__ == '__main__':
  sys.exit(main())
