"""The command-line entry points: train, resume, sample with solver overrides, evaluate."""

import json
import os

from launch import evaluate as launch_evaluate
from launch import sample as launch_sample
from launch import train as launch_train

EXP = 'experiments/rectified_flow/toy2d.py:smoke'


def test_train_resume_sample_evaluate(tmp_path, capsys):
  w = str(tmp_path / 'run')
  flags = ['--config.train.progress=false', '--config.train.steps=10']
  assert launch_train.main(['--config', EXP, '--workdir', w] + flags) == 0
  assert launch_train.main(['--config', EXP, '--workdir', w, '--config.train.progress=false',
                            '--config.train.steps=20']) == 0
  assert 'Resumed from step 10' in capsys.readouterr().out
  assert launch_sample.main(['--workdir', w, '--name', 'heun8', '--config.sampling.solver=heun',
                             '--config.sampling.steps=8', '--config.sampling.num_samples=16']) == 0
  npz = os.path.join(w, 'samples', 'heun8.npz')
  import numpy as np

  data = np.load(npz)
  assert data['samples'].shape == (16, 2) and int(data['nfe']) == 16   # Heun: 2 calls a step
  assert os.path.exists(os.path.join(w, 'samples', 'heun8.png'))
  assert launch_evaluate.main(['--workdir', w]) == 0
  results = json.load(open(os.path.join(w, 'eval_20.json')))
  assert results['step'] == 20 and 'eval/sliced_wasserstein' in results


def test_sample_refuses_model_overrides(tmp_path, capsys):
  w = str(tmp_path / 'run')
  assert launch_train.main(['--config', EXP, '--workdir', w, '--config.train.progress=false']) == 0
  assert launch_sample.main(['--workdir', w, '--config.model.score_mlp.width=8']) == 2
  assert 'only sampling.*' in capsys.readouterr().err
  # A damaged checkpoint is an error message (exit 2), not a traceback.
  for root, _, files in os.walk(os.path.join(w, 'checkpoints')):
    for f in files:
      if 'state' in root:
        with open(os.path.join(root, f), 'wb') as fh:
          fh.write(b'garbage')
  assert launch_evaluate.main(['--workdir', w]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith('error: ') and 'no good checkpoint' in err[0], err


def test_missing_workdir(tmp_path, capsys):
  assert launch_evaluate.main(['--workdir', str(tmp_path / 'nothing')]) == 2
  assert 'no run' in capsys.readouterr().err
