"""Orbax checkpoints: round trips across device counts and clear errors for damaged ones."""

import os

import jax
import numpy as np
import pytest

from jaxgen.runtime import checkpoint as ckpt_lib
from jaxgen.runtime import parallel
from jaxgen.runtime import loop
from jaxgen.runtime import run as run_lib
from tests.conftest import tiny_config


def test_written_on_one_device_restores_on_eight_and_back(tmp_path):
  config = tiny_config()
  one = run_lib.Run(config, parallel.make_mesh(1))
  state = one.init()
  state, _ = one.train_step(state, one.batch(0))
  ck = ckpt_lib.Checkpointer(str(tmp_path / 'c1'))
  ck.save(1, state, '{}', force=True)
  ck.close()

  eight = run_lib.Run(config, parallel.make_mesh(8))
  ck8 = ckpt_lib.Checkpointer(str(tmp_path / 'c1'))
  restored = ck8.restore(eight.abstract_state())
  ck8.close()
  leaf = jax.tree.leaves(restored.params)[0]
  assert len(leaf.sharding.device_set) == 8
  for x, y in zip(jax.tree.leaves(jax.device_get(state)), jax.tree.leaves(jax.device_get(restored))):
    np.testing.assert_array_equal(x, y)
  # ...continue one step on 8 devices, save, and restore on 1 device.
  restored, _ = eight.train_step(restored, eight.batch(1))
  ck8 = ckpt_lib.Checkpointer(str(tmp_path / 'c8'))
  ck8.save(2, restored, '{}', force=True)
  ck8.close()
  ck1 = ckpt_lib.Checkpointer(str(tmp_path / 'c8'))
  back = ck1.restore(one.abstract_state())
  ck1.close()
  assert len(jax.tree.leaves(back.params)[0].sharding.device_set) == 1
  for x, y in zip(jax.tree.leaves(jax.device_get(restored)), jax.tree.leaves(jax.device_get(back))):
    np.testing.assert_array_equal(x, y)


def test_damaged_checkpoint_gives_a_clear_error_and_is_left_in_place(tmp_path):
  config = tiny_config(**{'train.steps': '3'})
  loop.train(config, str(tmp_path))
  step_dir = tmp_path / 'checkpoints' / '3'
  victims = [os.path.join(r, f) for r, _, fs in os.walk(step_dir / 'state') for f in fs]
  assert victims
  for v in victims:
    with open(v, 'wb') as f:
      f.write(b'garbage')
  trainer = run_lib.Run(config, parallel.make_mesh(1))
  ck = ckpt_lib.Checkpointer(str(tmp_path))
  with pytest.raises(ckpt_lib.CheckpointError, match=r'step 3 .* could not be restored.*move'):
    ck.restore(trainer.abstract_state())
  ck.close()
  assert step_dir.exists()


def test_no_checkpoint_error(tmp_path):
  trainer = run_lib.Run(tiny_config(), parallel.make_mesh(1))
  ck = ckpt_lib.Checkpointer(str(tmp_path))
  with pytest.raises(ckpt_lib.CheckpointError, match='no checkpoint'):
    ck.restore(trainer.abstract_state())
  ck.close()
