"""Bytes ``launch.sample`` reads from a run's checkpoint (the trained model only, or the whole
training state with the optimizer's moments).

    JAX_PLATFORMS=cpu .venv/bin/python -m benchmarks.sample_restore [--workdir DIR] \
        [--config experiments/score_sde/digits.py:smoke] [--set model.unet.nf=32] \
        [--root REPO] [--repeats 3]

Trains ``--config`` (with the ``--set`` overrides) for 2 steps into ``--workdir`` if it holds no
run, then runs ``python -m launch.sample --workdir DIR`` from the checkout ``--root`` (default:
this one; give another checkout to compare) ``--repeats`` times under ``strace`` and prints the
median of the bytes returned by read/pread calls on files under ``DIR/checkpoints/``, with the
size of that checkpoint folder.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CALL = re.compile(r'^\d+\s+(?:read|pread64|readv|preadv2?)\((\d+)<([^>]*)>.*\)\s+=\s+(\d+)$')


def checkpoint_bytes(trace: str, folder: str) -> int:
  """The bytes returned by the traced read calls on files under `folder`."""
  total = 0
  with open(trace) as f:
    for line in f:
      m = CALL.match(line.strip())
      if m and m.group(2).startswith(folder + os.sep):
        total += int(m.group(3))
  return total


def folder_size(folder: str) -> int:
  return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(folder) for f in fs)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--workdir', default=os.path.join(tempfile.gettempdir(), 'sample_restore'))
  parser.add_argument('--config', default='experiments/score_sde/digits.py:smoke')
  parser.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                      help='a config override of the trained run (repeatable)')
  parser.add_argument('--root', default=ROOT, help='the checkout whose launch.sample is measured')
  parser.add_argument('--repeats', type=int, default=3)
  args = parser.parse_args()
  workdir = os.path.abspath(args.workdir)
  env = dict(os.environ, JAX_PLATFORMS=os.environ.get('JAX_PLATFORMS', 'cpu'))
  if not os.path.exists(os.path.join(workdir, 'config.json')):
    subprocess.run([sys.executable, '-m', 'launch.train', '--config', args.config, '--workdir',
                    workdir, '--config.train.steps=2', '--config.train.progress=false',
                    "--config.eval.metrics=('loss',)"] + [f'--config.{kv}' for kv in args.set],
                   cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
  folder = os.path.realpath(os.path.join(workdir, 'checkpoints'))
  got = []
  with tempfile.TemporaryDirectory() as tmp:
    trace = os.path.join(tmp, 'trace')
    for i in range(args.repeats):
      subprocess.run(['strace', '-f', '-qq', '-y', '-e', 'trace=read,pread64,readv,preadv,preadv2',
                      '-o', trace, sys.executable, '-m', 'launch.sample', '--workdir', workdir,
                      '--name', f'restore_{i}'], cwd=args.root, env=dict(env, PYTHONPATH=args.root),
                     check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
      got.append(checkpoint_bytes(trace, folder))
  print(f'{args.root}: launch.sample read a median of {statistics.median(got):,.0f} bytes '
        f'(runs: {got}) from {folder} ({folder_size(folder):,} bytes on disk, newest step only '
        f'kept: {sorted(os.listdir(folder))})')


if __name__ == '__main__':
  main()
