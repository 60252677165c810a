"""A sample set does not depend on the number of devices or processes that drew it.

Each family's smoke run (one training step) draws 16 samples as a chunk folder (`launch.sample
--num 16 --chunk 16`) on 1 CPU device, on 8, and (rectified flow) as 2 processes of 4: the
folders' digests (SHA-256 of the chunks' bytes) are equal. Random numbers are drawn per element
(``jax_threefry_partitionable``, the default) and each chunk is one call of a fixed size, so the
sharding of the batch changes nothing. Not covered: the PC samplers' Langevin correctors, whose
fori_loop XLA compiles differently per sharding (their samples agree to ~1e-7 before the
chaos of an untrained model amplifies it), so score SDEs are checked predictor-only and with DDIM.
"""

import json
import os
import subprocess
import sys

from tests import processes
from tests.conftest import ROOT

RUNS = {  # workdir name -> (experiment, sampling overrides of each checked sampler)
    'rectified_flow': ('experiments/rectified_flow/digits.py:smoke',
                       ([], ['--config.sampling.solver=rk45'])),
    'score_sde': ('experiments/score_sde/digits.py:smoke',
                  (['--config.sampling.corrector=none'], ['--config.sampling.method=ddim'])),
    'pixelcnn': ('experiments/pixelcnn/digits.py:smoke', ([],)),
    'nice': ('experiments/nice/digits.py:smoke', ([],)),
}

_TRAIN = '''
import sys
from launch import train
for name, config in {runs!r}.items():
  assert train.main(['--config', config, '--workdir', f'{root}/' + name, '--config.train.steps=1',
                     '--config.train.fast_compile=True', '--config.train.progress=False']) == 0
'''
_SAMPLE = '''
from launch import sample
for name, overrides in {runs!r}.items():
  for i, over in enumerate(overrides):
    assert sample.main(['--workdir', f'{root}/' + name, '--num', '16', '--chunk', '16', '--name',
                        f'{tag}_' + str(i), *over]) == 0
'''


def _python(code: str, devices: int) -> None:
  done = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=processes.env(devices),
                        capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _digest(root, name: str, tag: str, i: int) -> str:
  with open(os.path.join(root, name, 'samples', f'{tag}_{i}', 'index.json')) as f:
    return json.load(f)['digest']


def test_one_and_eight_devices_and_two_processes_draw_the_same_bytes(tmp_path):
  root = str(tmp_path)
  _python(_TRAIN.format(runs={k: v[0] for k, v in RUNS.items()}, root=root), 1)
  overrides = {k: v[1] for k, v in RUNS.items()}
  for tag, devices in (('d1', 1), ('d8', 8)):
    _python(_SAMPLE.format(runs=overrides, root=root, tag=tag), devices)
  rf = RUNS['rectified_flow'][1][1]
  processes.launch([sys.executable, '-m', 'launch.sample', '--workdir', f'{root}/rectified_flow',
                    '--num', '16', '--chunk', '16', '--name', 'p2_1', *rf], processes=2, devices=4)
  for name, (_, samplers) in RUNS.items():
    for i in range(len(samplers)):
      assert _digest(root, name, 'd1', i) == _digest(root, name, 'd8', i), (name, samplers[i])
  assert _digest(root, 'rectified_flow', 'p2', 1) == _digest(root, 'rectified_flow', 'd1', 1)
