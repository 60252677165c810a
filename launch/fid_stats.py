"""Reference statistics for FID: the FID Inception's pool3 mean and covariance of a data set.

    python -m launch.fid_stats --config experiments/score_sde/ddpmpp_cont_vp.py --split train \
        --inception-weights inception.npz --out runs/fid_stats/cifar10_train.npz [--num N]

Reads the experiment's data (``config.data``; the split named by --split, default the training
split, without flips or dequantization: the images on their grid), maps it to [0, 1], resizes and
embeds it as `jaxgen.runtime.evaluators.inception` does for samples, streaming batches of
``eval.batch_size`` (float64 accumulation), and writes ``mu`` [2048], ``sigma`` [2048, 2048],
``count`` and ``meta`` (data, split, weights' SHA-256) to OUT. Evaluate against it with
``--config.eval.fid_stats=OUT``. Bad input (a missing, cut short or folder weights file, an
unknown split) is one ``error:`` line, exit 2, nothing written; the flags and files are checked
before JAX is imported.
"""

from __future__ import annotations

import argparse
import sys


def _parser():
  p = argparse.ArgumentParser(prog='python -m launch.fid_stats', description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--config', required=True, help='experiment file[:variant] naming the data')
  p.add_argument('--split', default='', help='data split (default: config.data.train_split)')
  p.add_argument('--inception-weights', required=True, help='the converted FID Inception .npz')
  p.add_argument('--out', required=True, help='output .npz')
  p.add_argument('--num', type=int, default=0, help='use the first N images (0: all)')
  return p


def main(argv=None) -> int:
  import os
  import time

  from jaxgen.runtime import config as cfg
  from jaxgen.runtime import evaluators
  from jaxgen.runtime import overrides as overrides_lib

  argv = sys.argv[1:] if argv is None else argv
  t0 = time.perf_counter()
  try:
    rest, overrides = overrides_lib.split(argv)
    args = _parser().parse_args(rest)
    evaluators.check_inception_weights(args.inception_weights, '--inception-weights')
    if os.path.isdir(args.out) or not args.out.endswith('.npz'):
      raise cfg.ConfigError(f'--out={args.out}: give the .npz file to write (e.g. '
                            'runs/fid_stats/cifar10_train.npz)')
    cfg.load_module(args.config.partition(':')[0], 'get_config')   # the file, before JAX
  except cfg.ConfigError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  from jaxgen.runtime import cli
  from jaxgen.runtime.evaluators import inception
  try:
    config = cfg.validate(overrides_lib.apply(cfg.load(args.config), overrides))
    stats, meta = inception.dataset_stats(config, args.split, args.inception_weights, args.num,
                                          log=lambda m: print(m, flush=True),
                                          weights_key='--inception-weights')
  except cli.USER_ERRORS as e:
    return cli.error(e)
  inception.save_stats(args.out, stats, meta)
  print(f'Wrote {args.out}: {meta["count"]} images of {meta["data"]} ({meta["split"]}) in '
        f'{time.perf_counter() - t0:.0f}s')
  return 0


if __name__ == '__main__':
  sys.exit(main())
