"""Device mesh, shardings and multi-host start-up for data-parallel and FSDP training.

A 2-D mesh ``('data', 'fsdp')`` of ``(devices / k) x k`` devices, k = ``train.fsdp`` (1: plain
data parallelism, the default; 0: all devices in use). Batches are split along their leading
axis over every device of every host (both axes: the global batch in ``data x fsdp`` parts).
With k = 1 parameters, EMA and optimizer state are replicated; with k > 1 each array of the
training state is split over the ``'fsdp'`` axis by the rule of `jaxgen.runtime.sharding`, so a
device holds about ``1/k`` of it. `jax.jit` with these shardings is the current form of
``pmap``: XLA (GSPMD) inserts the collectives (the gradient all-reduce, or the all-gathers of
the split parameters and the reduce-scatters of their gradients), so a loss that is a mean over
the global batch gives gradients that are the mean over the global batch, on any mesh shape.
Evaluation and sampling use one replicated copy of the evaluation parameters (`replicate`).

Several processes (hosts) each feed their share of the global batch (`shard_batch`); results
needed in full on every process (samples, per-example log-likelihoods) are gathered with
`to_host`. Only process 0 writes files other than checkpoints, which all processes save together.
Several processes on one machine (e.g. to test multi-host code on CPU, 2 processes x 2 devices)::

    for i in 0 1; do
      JAX_PLATFORMS=cpu XLA_FLAGS=--xla_force_host_platform_device_count=2 \
      JAX_COORDINATOR_ADDRESS=localhost:12355 JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=$i \
      python -m launch.train --config experiments/rectified_flow/toy2d.py:smoke \
          --workdir runs/mh &
    done; wait

(tests/launch/test_multihost.py checks that this trains the parameters of 1 process x 4 devices.)
"""

from __future__ import annotations

import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P


def initialize_multihost() -> None:
  """Calls `jax.distributed.initialize` when launched as one of several processes.

  Started when any of these is set: JAX_COORDINATOR_ADDRESS (``host:port`` of process 0; with
  JAX_NUM_PROCESSES and JAX_PROCESS_ID = 0 .. n-1 where no cluster manager tells JAX, e.g. several
  processes on one machine: JAX itself reads only the address, so the count and the id are passed
  on from here), SLURM with more than one task (JAX reads SLURM's variables), a GKE TPU slice
  (TPU_WORKER_HOSTNAMES), or JAXGEN_MULTIHOST=1 (e.g. a Cloud TPU VM pod slice made with gcloud,
  whose workers JAX finds from the metadata server; `launch/tpu_pod.sh run` sets the coordinator
  address instead). On CPU the cross-process
  collectives are gloo's (TCP): JAX's default in 0.12; set here only on a JAX whose default is
  none. A single process does nothing.
  """
  address = os.environ.get('JAX_COORDINATOR_ADDRESS')
  if address or os.environ.get('SLURM_NTASKS', '1') != '1' or (
      os.environ.get('TPU_WORKER_HOSTNAMES', '').count(',') > 0) or (
      os.environ.get('JAXGEN_MULTIHOST') == '1'):
    if jax.config.jax_cpu_collectives_implementation is None:
      jax.config.update('jax_cpu_collectives_implementation', 'gloo')
    num, pid = os.environ.get('JAX_NUM_PROCESSES'), os.environ.get('JAX_PROCESS_ID')
    jax.distributed.initialize(address or None, num_processes=int(num) if num else None,
                               process_id=int(pid) if pid else None)


def make_mesh(num_devices: int = 0, fsdp: int = 1) -> Mesh:
  """The ``('data', 'fsdp')`` mesh over all devices, or over the first `num_devices`
  (single-host only), with `fsdp` devices along 'fsdp' (0: all of them). Devices keep
  `jax.devices()`'s order (each process's devices are consecutive), row by row: the rows are
  the 'data' replicas. ValueError naming the key if `fsdp` does not divide the device count."""
  devices = jax.devices()
  if num_devices:
    if num_devices > len(devices):
      raise ValueError(f'train.num_devices={num_devices} but only {len(devices)} devices exist')
    if jax.process_count() > 1:
      raise ValueError('train.num_devices must be 0 (all devices) on several hosts')
    devices = devices[:num_devices]
  n = len(devices)
  fsdp = fsdp or n
  if n % fsdp:
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    raise ValueError(f'train.fsdp={fsdp} must divide the {n} devices in use (train.num_devices='
                     f'{num_devices}); set train.fsdp to one of {divisors} (1: replicated '
                     f'parameters; 0: all {n})')
  return Mesh(np.array(devices).reshape(n // fsdp, fsdp), ('data', 'fsdp'))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """The leading axis split over every axis of `mesh` (all its devices)."""
  return NamedSharding(mesh, P(mesh.axis_names))


def replicate(tree, mesh: Mesh):
  """`tree` (jax Arrays on `mesh`) with every leaf replicated: itself if all already are (no
  copy), else gathered by one jit-compiled identity (across processes too)."""
  if all(x.sharding.is_fully_replicated for x in jax.tree.leaves(tree)):
    return tree
  return jax.jit(lambda t: t, out_shardings=replicated(mesh))(tree)


def shard_batch(host_batch: dict, mesh: Mesh) -> dict:
  """Builds global arrays from each host's share (leading axis split over all mesh axes)."""
  sharding = batch_sharding(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v))
          for k, v in host_batch.items()}


def to_host(tree):
  """Numpy copies of a pytree of (global) arrays, each in full on every process.

  An array split over the devices of several processes (a batch-sharded output) is gathered
  across them (`multihost_utils.process_allgather`, a collective: every process must call this
  in the same order); fully addressable or replicated arrays are simply fetched, so in a single
  process this is `jax.device_get`.
  """

  def one(x):
    if isinstance(x, jax.Array) and not (x.is_fully_addressable or x.is_fully_replicated):
      from jax.experimental import multihost_utils
      return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(jax.device_get(x))

  return jax.tree.map(one, tree)
