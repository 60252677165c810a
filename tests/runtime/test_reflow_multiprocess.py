"""Real multi-process pair generation: `launch.reflow` as 2 processes (jax.distributed, gloo).

Shard i belongs to process i % 2; each process integrates its shards on its own device, they meet
at a barrier and process 0 writes the index. The folder equals, byte for byte, the one a single
process with one device writes (every call runs the same computation on one device).
"""

import os
import sys

import pytest

from tests import processes

EXP = 'experiments/rectified_flow/toy2d.py:smoke'


@pytest.mark.slow
def test_two_processes_write_the_folder_of_one(tmp_path):
  w = tmp_path / 'rf'
  processes.launch([sys.executable, '-m', 'launch.train', '--config', EXP, '--workdir', str(w),
              '--config.train.steps=4', '--config.train.progress=false'], 1, 1)
  flags = ['--num', '20', '--shard', '4', '--config.sampling.steps=3']
  one, two = tmp_path / 'one', tmp_path / 'two'
  processes.launch([sys.executable, '-m', 'launch.reflow', '--workdir', str(w), '--out', str(one)]
             + flags, 1, 1)
  outs = processes.launch([sys.executable, '-m', 'launch.reflow', '--workdir', str(w), '--out',
                     str(two)] + flags, 2, 1)
  assert 'process 0 writes the index' in outs[1] and outs[0].strip().splitlines()[-1].startswith(
      f'Wrote {two}: 20 pairs in 5 shards of 4 (12 made, 0 kept)')   # shards 0, 2, 4
  files = sorted(f for f in os.listdir(one) if f != 'plan.json')
  assert files == sorted(f for f in os.listdir(two) if f != 'plan.json')
  for f in files:
    if f == 'index.json':
      continue
    assert (one / f).read_bytes() == (two / f).read_bytes(), f
  assert (one / 'index.json').read_text().replace(str(one), '') == (
      two / 'index.json').read_text().replace(str(two), '')
