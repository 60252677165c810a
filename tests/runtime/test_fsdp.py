"""FSDP over the ('data', 'fsdp') mesh (`jaxgen.runtime.sharding`, `parallel.make_mesh`) and
checkpoints that restore across mesh shapes and device counts, on the 8 CPU devices of the test
session (tests/conftest.py)."""

import jax
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from jaxgen.runtime import config as cfg
from jaxgen.runtime import loop
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import sharding
from jaxgen.runtime import state as state_lib
from jaxgen.store import checkpoint as ckpt_lib
from launch import sample as launch_sample
from launch import train as launch_train
from tests.conftest import EXP, run_steps, tiny_config
from tests.refusal import SHORT, refused


def _mesh_config(devices: int, fsdp: int, **overrides):
  return tiny_config(**{'train.num_devices': str(devices), 'train.fsdp': str(fsdp), **overrides})


def _trainer(devices: int, fsdp: int) -> state_lib.Trainer:
  return state_lib.Trainer(run_lib.Run(_mesh_config(devices, fsdp)))


def _train(trainer, state, steps: int):
  for s in range(int(state.step), steps):
    state, _ = trainer.train_step(state, trainer.run.batch(s))
  return state


def _assert_close(a, b):
  """Leaf by leaf to 1e-5 of each leaf's scale: only the order of float reductions differs."""
  for x, y in zip(jax.tree.leaves(jax.device_get(a)), jax.tree.leaves(jax.device_get(b))):
    x, y = np.asarray(x), np.asarray(y)
    np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-5 * float(np.abs(x).max() + 1e-3))


@pytest.fixture(scope='module')
def straight():
  """6 steps on 8 devices as 8 x 1 (plain data parallelism)."""
  assert jax.device_count() >= 8
  return run_steps(tiny_config(), 8, 6)


@pytest.mark.parametrize('shape,k,expected', [
    ((64, 32), 4, P('fsdp')),                    # the largest axis
    ((30, 64), 4, P(None, 'fsdp')),              # 30 is not divisible: the next largest
    ((3, 3, 64, 128), 4, P(None, None, None, 'fsdp')),
    ((32, 32), 4, P('fsdp')),                    # equal axes: the first
    ((33, 31), 4, P()),                          # no divisible axis: replicated
    ((32,), 4, P()),                             # under MIN_SHARDED elements: replicated
    ((), 4, P()),                                # a scalar (a step count)
    ((2,), 4, P()),                              # the key
    ((512, 256), 1, P()),                        # no 'fsdp' axis to split over
])
def test_the_rule_splits_the_largest_divisible_axis_of_large_arrays(shape, k, expected):
  """`sharding.spec`: the largest axis k divides (the first of equal ones); replicated when the
  array is small, no axis is divisible or k = 1."""
  assert sharding.spec(shape, k) == expected


def test_two_by_four_trains_the_parameters_of_eight_by_one(straight):
  """8 devices as 2 (data) x 4 (fsdp): after 6 steps params, EMA and Adam's moments agree with
  8 x 1 within float tolerance; the 32 x 32 kernels really are split (each device holds 8 x 32)
  and their optimizer moments and EMA are split like them."""
  trainer = _trainer(8, 4)
  assert dict(trainer.run.mesh.shape) == {'data': 2, 'fsdp': 4}
  state = _train(trainer, trainer.init(), 6)
  kernel = state.params['block_0']['dense']['kernel']
  assert kernel.shape == (32, 32) and kernel.sharding.shard_shape(kernel.shape) == (8, 32)
  mu = state.opt_state[1][0].mu['block_0']['dense']['kernel']
  for x in (mu, state.ema_params['block_0']['dense']['kernel']):
    assert x.sharding.spec == kernel.sharding.spec == P('fsdp')
  assert state.params['block_0']['dense']['bias'].sharding.is_fully_replicated
  _assert_close(straight, state)


@pytest.mark.parametrize('source', [(8, 1), (8, 4)], ids=['from8x1', 'from2x4'])
def test_a_checkpoint_restores_onto_other_meshes_and_resumes(tmp_path, straight, source):
  """A checkpoint of step 3 written on 8 devices (8 x 1 or 2 x 4) restores, verified, onto
  1 device, 4 devices (1 x 4) and the other 8-device shape with the target's shardings and the
  saved values bit for bit; 3 more steps there give the parameters of 6 uninterrupted steps."""
  trainer = _trainer(*source)
  saved = _train(trainer, trainer.init(), 3)
  ck = ckpt_lib.Checkpointer(str(tmp_path), async_save=False)
  try:
    ck.save(3, saved, cfg.to_json(trainer.run.config))
  finally:
    ck.close()
  other = (8, 4) if source == (8, 1) else (8, 1)
  for target in ((1, 1), (4, 4), other):
    resumed = _trainer(*target)
    ck = ckpt_lib.Checkpointer(str(tmp_path))
    try:
      state = ck.restore(resumed.abstract_state())
    finally:
      ck.close()
    got = jax.tree.map(lambda x: (x.sharding.mesh.shape, x.sharding.spec), state)
    assert got == jax.tree.map(lambda s: (s.mesh.shape, s.spec), resumed.shardings), target
    for x, y in zip(jax.tree.leaves(jax.device_get(saved)), jax.tree.leaves(jax.device_get(state))):
      np.testing.assert_array_equal(x, y)
    _assert_close(straight, _train(resumed, state, 6))


def test_a_2x4_run_resumes_evaluates_and_samples_on_other_devices(tmp_path, capsys, straight):
  """launch.train on 2 x 4 for 3 steps (its evaluation and samples gather the split EMA); the
  same run resumed on 4 devices as 2 x 2 (train.fsdp may change on resume) reaches the
  parameters of 6 uninterrupted 8 x 1 steps, its post-hoc EMA profiles split like them;
  `open_run` (launch.evaluate's, launch.sample's) on 1 device reads the checkpoint's EMA bit for
  bit, replicated, and reconstructs a post-hoc EMA from the split snapshots; launch.sample there
  succeeds."""
  w = str(tmp_path / 'w')
  posthoc = {'optim.posthoc_ema': '(0.05, 0.1)'}
  loop.train(_mesh_config(8, 4, **{'train.steps': '3'}, **posthoc), w)
  resumed = loop.train(_mesh_config(4, 2, **posthoc), w)
  kernel = resumed.params['block_0']['dense']['kernel']
  assert dict(kernel.sharding.mesh.shape) == {'data': 2, 'fsdp': 2}
  assert resumed.posthoc[1]['block_0']['dense']['kernel'].sharding == kernel.sharding
  _assert_close((straight.params, straight.ema_params), (resumed.params, resumed.ema_params))
  one, eight = (run_lib.open_run(w, {'train.num_devices': n, 'eval.posthoc_sigma_rel': '0.07'})
                for n in ('1', '8'))
  assert one.mesh.devices.size == 1
  for x, y, p in zip(*(jax.tree.leaves(t) for t in (one.params, eight.params, resumed.params))):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert not np.array_equal(np.asarray(x), np.asarray(p))  # a reconstruction, not params
  run = run_lib.open_run(w, {'train.num_devices': '1'})
  assert run.mesh.devices.size == 1 and int(run.step) == 6
  for x, y in zip(jax.tree.leaves(run.params), jax.tree.leaves(resumed.ema_params)):
    assert x.sharding.is_fully_replicated
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
  assert launch_sample.main(['--workdir', w, '--config.train.num_devices=1']) == 0, \
      capsys.readouterr().err


@pytest.mark.parametrize('flags,pattern', [
    (['--config.train.fsdp=3'], r'train\.fsdp=3 must divide the 8 devices in use.*\[1, 2, 4, 8\]'),
    (['--config.train.fsdp=4', '--config.train.num_devices=6'],
     r'train\.fsdp=4 must divide the 6 devices in use'),
    (['--config.train.fsdp=4', '--config.train.batch_size=36'],
     r'config\.train\.batch_size=36 must be divisible by the 8 devices in use'),
], ids=['fsdp', 'fsdp-num_devices', 'batch'])
def test_a_bad_mesh_is_refused_before_anything_is_written(tmp_path, capsys, flags, pattern):
  """train.fsdp not dividing the devices in use, or a batch the devices do not divide: one
  error line naming the key, exit 2, nothing written."""
  refused(capsys, launch_train.main,
          ['--config', EXP, '--workdir', str(tmp_path / 'new'), *SHORT, *flags], pattern,
          str(tmp_path))
