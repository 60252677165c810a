"""The cluster launchers against stub `gcloud`, `srun` and `python` executables that record their
argv (one JSON list per line): launch/tpu_pod.sh, launch/slurm.sbatch and launch/local.sh.

The stub gcloud runs the ``--command`` of ``tpu-vm ssh`` with ``bash -c`` in a fake worker home,
as the worker's login shell would, so the arguments that reach the worker's ``python`` show that
the quoting survives a remote shell: parentheses, quotes, spaces, ``$`` and backquotes. A dry
run's output, fed to bash with the same stubs, runs exactly the commands the real run runs.
"""

import json
import os
import subprocess
import sys
import tarfile

import pytest

from tests.conftest import ROOT

POD = os.path.join(ROOT, 'launch', 'tpu_pod.sh')
SLURM = os.path.join(ROOT, 'launch', 'slurm.sbatch')
LOCAL = os.path.join(ROOT, 'launch', 'local.sh')
EXP = 'experiments/rectified_flow/toy2d.py:smoke'
# Arguments a shell would mangle if pasted unquoted.
TRICKY = ["--config.eval.metrics=('loss',)", '--config.data.name=a b',
          '--config.train.note=it\'s "q" $HOME `date` \\ ; & | *']

# Records its argv and the environment variables the launchers set, then acts per program.
STUB = r'''#!{python}
import json, os, shutil, subprocess, sys
record = {{'prog': os.path.basename(sys.argv[0]), 'argv': sys.argv[1:], 'cwd': os.getcwd(),
          'env': {{k: os.environ[k] for k in ('JAX_COORDINATOR_ADDRESS', 'JAX_NUM_PROCESSES',
                  'JAX_PROCESS_ID', 'JAX_PLATFORMS', 'XLA_FLAGS', 'JAX_LOCAL_DEVICE_IDS')
                  if k in os.environ}}}}
with open(os.environ['STUB_LOG'], 'a') as f:
  f.write(json.dumps(record) + '\n')
args = sys.argv[1:]
if record['prog'] == 'gcloud':
  if 'describe' in args:
    print('10.0.0.2')
  elif 'scp' in args:  # keep what would be copied to the workers
    shutil.copy(args[args.index('scp') + 1], os.path.join(os.environ['STUB_HOME'], 'copied.tar.gz'))
  elif 'ssh' in args and os.environ.get('STUB_EXEC') == '1':
    command = next(a for a in args if a.startswith('--command='))[len('--command='):]
    sys.exit(subprocess.call(['bash', '-c', command], cwd=os.environ['STUB_HOME'],
                             env=dict(os.environ, HOME=os.environ['STUB_HOME'])))
'''


def _stub(path, python=sys.executable):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'w') as f:
    f.write(STUB.format(python=python))
  os.chmod(path, 0o755)
  return path


def _records(log):
  if not os.path.exists(log):
    return []
  return [json.loads(l) for l in open(log)]


@pytest.fixture
def stubs(tmp_path):
  """A PATH with stub gcloud and srun, a fake worker home with jaxgen/.venv/bin/python."""
  bin_dir, home = tmp_path / 'bin', tmp_path / 'home'
  for prog in ('gcloud', 'srun'):
    _stub(str(bin_dir / prog))
  _stub(str(home / 'jaxgen' / '.venv' / 'bin' / 'python'))
  log = str(tmp_path / 'log.jsonl')
  env = dict(os.environ, PATH=f'{bin_dir}:{os.environ["PATH"]}', STUB_LOG=log,
             STUB_HOME=str(home), TMPDIR=str(tmp_path))
  for k in ('SLURM_SUBMIT_DIR', 'SLURM_GPUS_PER_NODE', 'GPUS_PER_NODE', 'REPO', 'PYTHON',
            'DRY_RUN', 'XLA_FLAGS', 'PYTHONPATH'):
    env.pop(k, None)
  return env, log, home


def _bash(args, env, stdin=None, check=True):
  p = subprocess.run(['bash', *args], env=env, cwd=ROOT, capture_output=True, text=True,
                     input=stdin, timeout=60)
  if check:
    assert p.returncode == 0, p.stderr
  return p


GC = ['compute', 'tpus', 'tpu-vm']


def test_tpu_pod_run_arguments_survive_the_remote_shell(stubs):
  env, log, home = stubs
  _bash([POD, 'run', 'my-tpu', 'us-central2-b', EXP, '~/runs/a b', *TRICKY],
        dict(env, STUB_EXEC='1'))
  describe, ssh, python = _records(log)
  assert describe['argv'] == [*GC, 'describe', 'my-tpu', '--zone=us-central2-b',
                              '--format=value(networkEndpoints[0].ipAddress)']
  assert ssh['argv'][:7] == [*GC, 'ssh', 'my-tpu', '--zone=us-central2-b', '--worker=all']
  # The worker's python: in the repository, the exact arguments, the coordinator of worker 0.
  assert python['prog'] == 'python' and python['cwd'] == str(home / 'jaxgen')
  assert python['argv'] == ['-m', 'launch.train', '--config', EXP,
                            '--workdir', str(home / 'runs' / 'a b'), *TRICKY]
  assert python['env']['JAX_COORDINATOR_ADDRESS'] == '10.0.0.2:8482'


def test_tpu_pod_options_repo_workdir_project_coordinator(stubs):
  env, log, home = stubs
  _stub(str(home / 'my repo' / '.venv' / 'bin' / 'python'))
  _bash([POD, '--repo', '~/my repo', '--workdir', 'gs://bucket/run 1', '--project', 'p',
         '--coordinator', '10.1.2.3:1234', 'run', 't', 'z', EXP, *TRICKY],
        dict(env, STUB_EXEC='1'))
  ssh, python = _records(log)  # no describe: the coordinator was given
  assert ssh['argv'][3:7] == ['ssh', 't', '--zone=z', '--project=p']
  assert python['cwd'] == str(home / 'my repo')
  assert python['argv'] == ['-m', 'launch.train', '--config', EXP,
                            '--workdir', 'gs://bucket/run 1', *TRICKY]
  assert python['env']['JAX_COORDINATOR_ADDRESS'] == '10.1.2.3:1234'


def test_tpu_pod_dry_run_prints_what_the_run_runs(stubs):
  env, log, home = stubs
  out = _bash([POD, '--dry-run', 'run', 'my-tpu', 'z', EXP, 'runs/x', *TRICKY[:2]], env).stdout
  assert out.splitlines() == [
      "gcloud compute tpus tpu-vm describe my-tpu --zone=z "
      "'--format=value(networkEndpoints[0].ipAddress)'",
      'gcloud compute tpus tpu-vm ssh my-tpu --zone=z --worker=all "--command=cd jaxgen && '
      'JAX_COORDINATOR_ADDRESS=WORKER0_IP:8482 .venv/bin/python -m launch.train --config '
      f"{EXP} --workdir runs/x '--config.eval.metrics=('\\''loss'\\'',)' "
      "'--config.data.name=a b'\""]
  out = _bash([POD, '--dry-run', 'run', 'my-tpu', 'z', EXP, 'runs/x', *TRICKY], env).stdout
  assert _records(log) == []  # nothing ran
  # The printed commands, run by a shell, are the run's commands (the placeholder address aside).
  _bash([], dict(env, STUB_EXEC='1'), stdin=out)
  describe, ssh, python = _records(log)
  assert describe['argv'][3] == 'describe'
  assert python['argv'] == ['-m', 'launch.train', '--config', EXP, '--workdir', 'runs/x', *TRICKY]
  assert python['env']['JAX_COORDINATOR_ADDRESS'] == 'WORKER0_IP:8482'


def test_tpu_pod_create_and_delete(stubs):
  env, log, _ = stubs
  _bash([POD, '--type', 'v5litepod-16', '--project', 'p', '--spot', 'create', 't', 'z'], env)
  _bash([POD, '--type', 'v4-32', '--version', 'tpu-ubuntu2204-base', 'create', 't', 'z'], env)
  _bash([POD, 'delete', 't', 'z'], env)
  assert [r['argv'] for r in _records(log)] == [
      [*GC, 'create', 't', '--zone=z', '--project=p', '--accelerator-type=v5litepod-16',
       '--version=v2-alpha-tpuv5-lite', '--spot'],
      [*GC, 'create', 't', '--zone=z', '--accelerator-type=v4-32', '--version=tpu-ubuntu2204-base'],
      [*GC, 'delete', 't', '--zone=z', '--quiet']]
  out = _bash([POD, '--dry-run', 'create', 't', 'z'], env).stdout
  assert out == ('gcloud compute tpus tpu-vm create t --zone=z --accelerator-type=v4-8 '
                 '--version=tpu-ubuntu2204-base\n')


def test_tpu_pod_setup_copies_this_checkout_and_runs_setup_on_every_worker(stubs, tmp_path):
  env, log, home = stubs
  _bash([POD, 'setup', 't', 'z'], env)
  scp, ssh = _records(log)
  tarball = str(tmp_path / 'jaxgen-src-t.tar.gz')
  assert scp['argv'] == [*GC, 'scp', tarball, 't:jaxgen-src.tar.gz', '--zone=z', '--worker=all']
  assert ssh['argv'] == [*GC, 'ssh', 't', '--zone=z', '--worker=all',
                         '--command=mkdir -p jaxgen && tar -xzf jaxgen-src.tar.gz -C jaxgen && '
                         'rm jaxgen-src.tar.gz && cd jaxgen && bash launch/setup.sh --accelerator tpu']
  assert not os.path.exists(tarball)  # removed after the copy
  with tarfile.open(home / 'copied.tar.gz') as t:
    names = set(t.getnames())
  assert {'launch/setup.sh', 'launch/quote.sh', 'launch/train.py', 'requirements-tpu.txt',
          'jaxgen/__init__.py', 'pyproject.toml'} <= names
  assert not any(n.startswith(('.venv/', 'runs/', '.git/')) for n in names)

  out = _bash([POD, '--dry-run', '--git', 'https://example.com/j.git', '--repo', '~/a b',
               '--install-python', 'setup', 't', 'z'], env).stdout.splitlines()
  assert len(out) == 1 and out[0].startswith(
      'gcloud compute tpus tpu-vm ssh t --zone=z --worker=all "--command={ command -v python3.12')
  assert out[0].endswith(
      "python3.12 python3.12-venv; }; } && if [ -d ~/'a b'/.git ]; then git -C ~/'a b' pull "
      "--ff-only; else git clone https://example.com/j.git ~/'a b'; fi && cd ~/'a b' && "
      'bash launch/setup.sh --accelerator tpu"')


@pytest.mark.parametrize('args, message', [
    (['start', 't', 'z'], "the action must be create, setup, run or delete, not 'start'"),
    (['run', 't', 'z', EXP], 'run needs WORKDIR after EXPERIMENT'),
    (['run', 't', 'z', EXP, '--config.a=1'], 'run needs WORKDIR after EXPERIMENT'),
    (['delete', 't', 'z', 'extra'], "delete takes only TPU and ZONE, not 'extra'"),
    (['--zone', 'z', 'run'], "unknown option '--zone'"),
    (['run', 't'], 'usage: bash launch/tpu_pod.sh'),
])
def test_tpu_pod_mistakes_are_one_error_line(stubs, args, message):
  env, log, _ = stubs
  p = _bash([POD, *args], env, check=False)
  assert p.returncode == 2 and p.stdout == ''
  assert p.stderr.startswith('error: ') and message in p.stderr and p.stderr.count('\n') == 1
  assert _records(log) == []


def test_slurm_gpus_per_node_and_dry_run(stubs):
  env, log, _ = stubs
  py = f'{ROOT}/.venv/bin/python'
  out = _bash([SLURM, EXP, 'runs/a b', *TRICKY], dict(env, DRY_RUN='1', GPUS_PER_NODE='4')).stdout
  assert out == (f'JAX_LOCAL_DEVICE_IDS=0,1,2,3 srun --ntasks-per-node=1 --gpus-per-node=4 '
                 f'--kill-on-bad-exit=1 --chdir={ROOT} {py} -m launch.train --config {EXP} '
                 "--workdir 'runs/a b' \"--config.eval.metrics=('loss',)\" "
                 "'--config.data.name=a b' '--config.train.note=it'\\''s \"q\" $HOME `date` \\ ; "
                 "& | *'\n")
  assert _records(log) == []
  # Inside an allocation: the GPUs of --gpus-per-node (SLURM writes type:count), the submit dir.
  _bash([SLURM, EXP, 'runs/x', *TRICKY],
        dict(env, SLURM_GPUS_PER_NODE='h100:2', SLURM_SUBMIT_DIR=ROOT, PYTHON='py'))
  (srun,) = _records(log)
  assert srun['argv'] == ['--ntasks-per-node=1', '--gpus-per-node=2', '--kill-on-bad-exit=1',
                          f'--chdir={ROOT}', 'py', '-m', 'launch.train', '--config', EXP,
                          '--workdir', 'runs/x', *TRICKY]
  assert srun['env']['JAX_LOCAL_DEVICE_IDS'] == '0,1'
  p = _bash([SLURM, EXP, 'runs/x'], dict(env, GPUS_PER_NODE='four'), check=False)
  assert p.returncode == 2 and p.stderr == "error: GPUS_PER_NODE must be a positive number, not 'four'\n"


def test_local_dry_run_prints_runnable_commands(stubs, tmp_path):
  env, log, _ = stubs
  py = _stub(str(tmp_path / 'py' / 'python'))
  out = _bash([LOCAL, '--dry-run', '--devices', '2', '--port', '12355', '2', EXP, 'runs/mh',
               *TRICKY], dict(env, PYTHON=py)).stdout
  lines = out.splitlines()
  common = (f'JAX_PLATFORMS=cpu XLA_FLAGS=--xla_force_host_platform_device_count=2 '
            f'PYTHONPATH={ROOT} JAX_COORDINATOR_ADDRESS=localhost:12355 JAX_NUM_PROCESSES=2')
  assert lines[0] == f'cd {ROOT}' and lines[-1] == 'wait' and len(lines) == 4
  for i in (0, 1):
    assert lines[1 + i].startswith(f'{common} JAX_PROCESS_ID={i} {py} -m launch.train --config '
                                   f'{EXP} --workdir runs/mh "--config.eval.metrics=')
    assert lines[1 + i].endswith(' &')
  assert _records(log) == []
  _bash([], env, stdin=out)
  records = sorted(_records(log), key=lambda r: r['env']['JAX_PROCESS_ID'])
  assert [r['env']['JAX_PROCESS_ID'] for r in records] == ['0', '1']
  for r in records:
    assert r['argv'] == ['-m', 'launch.train', '--config', EXP, '--workdir', 'runs/mh', *TRICKY]
    assert r['env']['JAX_COORDINATOR_ADDRESS'] == 'localhost:12355'
    assert r['env']['JAX_NUM_PROCESSES'] == '2' and r['env']['JAX_PLATFORMS'] == 'cpu'


def test_local_stops_the_others_when_one_fails(tmp_path):
  # Process 1 fails at once; process 0 would wait for its peer forever.
  py = tmp_path / 'python'
  py.write_text('#!/usr/bin/env bash\n'
                'if [ "$JAX_PROCESS_ID" = 1 ]; then echo boom; exit 3; fi\n'
                f'echo $$ > {tmp_path}/pid0; exec sleep 600\n')
  py.chmod(0o755)
  env = dict(os.environ, PYTHON=str(py))
  p = subprocess.run(['bash', LOCAL, '--port', '1', '2', EXP, 'runs/x'], env=env,
                     capture_output=True, text=True, timeout=30, cwd=ROOT)
  assert p.returncode == 3
  assert '[1] boom' in p.stdout
  assert 'error: a process of the 2 exited with 3; stopping the others' in p.stderr
  if os.path.exists(tmp_path / 'pid0'):  # (unless it was stopped before it got that far)
    with pytest.raises(ProcessLookupError):
      os.kill(int(open(tmp_path / 'pid0').read()), 0)


def test_local_mistakes(tmp_path):
  for args, message in [(['0', EXP, 'w'], "N (the number of processes) must be a positive number"),
                        (['2', EXP], 'usage: bash launch/local.sh'),
                        (['--devices', 'x', '2', EXP, 'w'], "--devices must be a positive number")]:
    p = subprocess.run(['bash', LOCAL, *args], capture_output=True, text=True, cwd=ROOT,
                       env=dict(os.environ, PYTHON=sys.executable), timeout=30)
    assert p.returncode == 2 and p.stderr.startswith('error: ') and message in p.stderr


@pytest.mark.slow  # two real processes: 62-71 s on the 2-core CPU at load 10-16 (idle: not measured)
def test_local_trains_the_smoke_run_as_two_processes(tmp_path):
  env = dict(os.environ, PYTHON=sys.executable)
  for k in ('JAX_COORDINATOR_ADDRESS', 'JAX_NUM_PROCESSES', 'JAX_PROCESS_ID', 'XLA_FLAGS'):
    env.pop(k, None)
  p = subprocess.run(['bash', LOCAL, '2', EXP, str(tmp_path / 'mh'), '--config.train.steps=4',
                      '--config.train.progress=false'], env=env, capture_output=True,
                     text=True, timeout=300, cwd=ROOT)
  assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
  assert '2 device(s), global batch 32, steps 0 -> 4' in p.stdout
  assert 'Evaluation:' in p.stdout and '[1] Evaluation:' not in p.stdout
  assert sorted(os.listdir(tmp_path / 'mh' / 'samples')) == ['step_4.npz', 'step_4.png']
