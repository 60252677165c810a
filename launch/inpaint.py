"""Inpaint test images with a trained run of any family that offers inpainting; write a picture.

    python -m launch.inpaint --workdir DIR [--masks bottom_half,random] [--num 8] [--keep 0.25] \
        [--name NAME] [--config.sampling.steps=200 ...]

The family's Model declares how (its ``'inpaint'`` extra, one signature for all): score SDEs run
the PC sampler with replacement (config.sampling's pc keys: steps, corrector, snr, ...), rectified
flow the ODE with replacement along its noise-data path (config.sampling.solver: a fixed-step
solver, steps), NICE projected gradient ascent on its exact log-likelihood
(config.sampling.inpaint_steps, inpaint_lr, inpaint_lr_offset, inpaint_noise). A family without
it (PixelCNN) is refused in one line that names the families offering it.

Mask kinds (jaxgen.data.masks): bottom_half, top_half, left_half, right_half, center,
odd_columns, random (each pixel observed with probability --keep). For each kind it takes --num
test images (the run's eval split, in the model's data space), hides the masked pixels and fills
them. Writes DIR/samples/NAME.png (default NAME inpaint_<step>; per mask kind three rows: the
originals, the observed pixels with the hidden ones mid-grey, the inpaintings) and NAME.npz
(original, mask, inpainted, kinds, mse_hidden; NICE: the log_prob trace). Prints per kind the mean
squared error of the hidden pixels against the originals (NICE: also the log-likelihoods).
"""

from __future__ import annotations

import sys


def _arguments(parser) -> None:
  parser.add_argument('--masks', default='', help='comma-separated mask kinds (default: '
                      'config.sampling.inpaint_mask where the family has it, else bottom_half; '
                      'then random)')
  parser.add_argument('--num', type=int, default=8, help='test images per mask kind')
  parser.add_argument('--keep', type=float, default=0.25, help="'random': fraction observed")
  parser.add_argument('--name', default='', help='file name (default inpaint_<step>)')


def _inpaint(args, run) -> None:
  from jaxgen.tools import inpaint

  kinds = [k for k in args.masks.split(',') if k]
  inpaint.inpaint(run, args.workdir, kinds, args.num, args.keep, args.name)


def main(argv=None) -> int:
  from jaxgen.runtime import cli

  argv = sys.argv[1:] if argv is None else argv
  return cli.on_run(argv, 'python -m launch.inpaint', __doc__, _inpaint, _arguments)


if __name__ == '__main__':
  sys.exit(main())
