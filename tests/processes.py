"""Real local processes for the multi-process tests: `launch` runs a command as N processes of M
CPU devices each, coordinated by `jax.distributed` over a free localhost port."""

import os
import socket
import subprocess

from tests.conftest import ROOT

TIMEOUT = 120


def free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def env(devices: int, **extra) -> dict:
  env = dict(os.environ, JAX_PLATFORMS='cpu', PYTHONPATH=ROOT,
             XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}', **extra)
  for k in ('JAX_COORDINATOR_ADDRESS', 'JAX_NUM_PROCESSES', 'JAX_PROCESS_ID'):
    if k not in extra:
      env.pop(k, None)
  return env


def launch(cmd: list[str], processes: int, devices: int) -> list[str]:
  """Runs `cmd` as `processes` processes of `devices` CPU devices; returns their outputs."""
  if processes == 1:
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env(devices), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)]
  else:
    addr = f'localhost:{free_port()}'
    procs = [subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env=env(devices, JAX_COORDINATOR_ADDRESS=addr,
                            JAX_NUM_PROCESSES=str(processes), JAX_PROCESS_ID=str(i)))
             for i in range(processes)]
  outs = []
  try:
    for p in procs:
      outs.append(p.communicate(timeout=TIMEOUT)[0])
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
        p.wait()
  for i, (p, out) in enumerate(zip(procs, outs)):
    assert p.returncode == 0, f'process {i} of {processes} exited {p.returncode}:\n{out[-4000:]}'
  return outs
