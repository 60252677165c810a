"""Device mesh, shardings and multi-host start-up for data-parallel training.

One mesh axis, ``'data'``: batches are split along their leading axis over every device of every
host; parameters, EMA and optimizer state are replicated. `jax.jit` with these shardings is the
current form of ``pmap``: XLA inserts the gradient all-reduce, so a loss that is a mean over the
global batch gives gradients that are the mean over the global batch.
"""

from __future__ import annotations

import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P


def initialize_multihost() -> None:
  """Calls `jax.distributed.initialize` when launched as one of several processes.

  Cloud TPU pods and SLURM are detected by JAX itself; elsewhere set JAX_COORDINATOR_ADDRESS,
  JAX_NUM_PROCESSES and JAX_PROCESS_ID. A single process does nothing.
  """
  if os.environ.get('JAX_COORDINATOR_ADDRESS') or os.environ.get('SLURM_NTASKS', '1') != '1' or (
      os.environ.get('TPU_WORKER_HOSTNAMES', '').count(',') > 0):
    jax.distributed.initialize()


def make_mesh(num_devices: int = 0) -> Mesh:
  """A 1-D mesh over all devices, or over the first `num_devices` (single-host only)."""
  devices = jax.devices()
  if num_devices:
    if num_devices > len(devices):
      raise ValueError(f'train.num_devices={num_devices} but only {len(devices)} devices exist')
    if jax.process_count() > 1:
      raise ValueError('train.num_devices must be 0 (all devices) on several hosts')
    devices = devices[:num_devices]
  return Mesh(np.array(devices), ('data',))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P('data'))


def shard_batch(host_batch: dict, mesh: Mesh) -> dict:
  """Builds global arrays from each host's share (leading axis split over the 'data' axis)."""
  sharding = batch_sharding(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v))
          for k, v in host_batch.items()}


def replicate(tree, mesh: Mesh):
  """Places a host pytree (identical on every host) replicated on the mesh."""
  sharding = replicated(mesh)
  return jax.tree.map(lambda x: jax.device_put(x, sharding), tree)
