"""Orbax checkpoints: round trips across device counts and clear errors for damaged ones."""

import json
import os

import jax
import numpy as np
import pytest

from jaxgen.runtime import loop
from jaxgen.runtime import parallel
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import state as state_lib
from jaxgen.store import checkpoint as ckpt_lib
from jaxgen.store import digest as digest_lib
from tests.conftest import tiny_config


@pytest.mark.skipif(jax.device_count() < 8, reason='needs 8 devices (JAXGEN_TEST_DEVICES=1)')
def test_written_on_one_device_restores_on_eight_and_back(tmp_path):
  config = tiny_config()
  one = state_lib.Trainer(run_lib.Run(config, parallel.make_mesh(1)))
  state = one.init()
  state, _ = one.train_step(state, one.run.batch(0))
  ck = ckpt_lib.Checkpointer(str(tmp_path / 'c1'))
  ck.save(1, state, '{}', force=True)
  ck.close()

  eight = state_lib.Trainer(run_lib.Run(config, parallel.make_mesh(8)))
  ck8 = ckpt_lib.Checkpointer(str(tmp_path / 'c1'))
  restored = ck8.restore(eight.abstract_state())
  ck8.close()
  leaf = jax.tree.leaves(restored.params)[0]
  assert len(leaf.sharding.device_set) == 8
  for x, y in zip(jax.tree.leaves(jax.device_get(state)), jax.tree.leaves(jax.device_get(restored))):
    np.testing.assert_array_equal(x, y)
  # ...continue one step on 8 devices, save, and restore on 1 device.
  restored, _ = eight.train_step(restored, eight.run.batch(1))
  ck8 = ckpt_lib.Checkpointer(str(tmp_path / 'c8'))
  ck8.save(2, restored, '{}', force=True)
  ck8.close()
  ck1 = ckpt_lib.Checkpointer(str(tmp_path / 'c8'))
  back = ck1.restore(one.abstract_state())
  ck1.close()
  assert len(jax.tree.leaves(back.params)[0].sharding.device_set) == 1
  for x, y in zip(jax.tree.leaves(jax.device_get(restored)), jax.tree.leaves(jax.device_get(back))):
    np.testing.assert_array_equal(x, y)


def test_damaged_only_checkpoint_is_one_error_and_is_left_in_place(tmp_path):
  config = tiny_config(**{'train.steps': '3'})
  loop.train(config, str(tmp_path))
  step_dir = tmp_path / 'checkpoints' / '3'
  victims = [os.path.join(r, f) for r, _, fs in os.walk(step_dir / 'state') for f in fs]
  assert victims
  for v in victims:
    with open(v, 'wb') as f:
      f.write(b'garbage')
  trainer = state_lib.Trainer(run_lib.Run(config, parallel.make_mesh(1)))
  ck = ckpt_lib.Checkpointer(str(tmp_path))
  with pytest.raises(ckpt_lib.CheckpointError, match=r'no good checkpoint in .*: step 3: .*move'):
    ck.restore(trainer.abstract_state())
  ck.close()
  assert step_dir.exists()


def test_digest_round_trip_and_stored_config(tmp_path):
  """The digest item holds one SHA-256 per state leaf (of the saved host bytes) and one of the
  config; the restore recomputes the same ones; the stored config reads back as saved."""
  config = tiny_config()
  one = state_lib.Trainer(run_lib.Run(config, parallel.make_mesh(1)))
  state = one.init()
  config_json = json.dumps({'model': {'family': 'x'}, 'seed': 3})
  ck = ckpt_lib.Checkpointer(str(tmp_path))
  ck.save(1, state, config_json)
  ck.wait()
  assert ck.last_digest_seconds is not None
  with open(tmp_path / 'checkpoints' / '1' / 'digest' / 'metadata') as f:
    stored = json.load(f)
  assert stored['leaves'] == digest_lib.tree_digest(jax.device_get(state))
  assert len(stored['leaves']) == len(jax.tree.leaves(state))
  assert stored['config'] == digest_lib.config_digest(json.loads(config_json))
  ck.close()
  ck = ckpt_lib.Checkpointer(str(tmp_path))
  restored = ck.restore(one.abstract_state())
  ck.close()
  assert digest_lib.tree_digest(restored) == stored['leaves']
  assert ck.restored_step == 1 and ck.restored_config == json.loads(config_json)
  assert ck.stored_config() == json.loads(config_json)


def test_reading_creates_nothing(tmp_path):
  ck = ckpt_lib.Checkpointer(str(tmp_path / 'w'))
  assert ck.latest_step() is None and ck.all_steps() == []
  with pytest.raises(ckpt_lib.CheckpointError, match='no checkpoint'):
    ck.restore({})
  ck.close()
  assert not (tmp_path / 'w').exists()


def test_no_checkpoint_error(tmp_path):
  trainer = state_lib.Trainer(run_lib.Run(tiny_config(), parallel.make_mesh(1)))
  ck = ckpt_lib.Checkpointer(str(tmp_path))
  with pytest.raises(ckpt_lib.CheckpointError, match='no checkpoint'):
    ck.restore(trainer.abstract_state())
  ck.close()


def test_retention_keeps_the_step_named_best(tmp_path):
  """keep=1 with best=2 named from step 2's save on: steps 1..4 leave 2 and 4 (the best one is
  older than the newest `keep`); once step 5 is committed as the new best, 2 goes too."""
  one = state_lib.Trainer(run_lib.Run(tiny_config(), parallel.make_mesh(1)))
  state = one.init()
  ck = ckpt_lib.Checkpointer(str(tmp_path), keep=1, async_save=False)
  for step, best in ((1, 1), (2, 2), (3, 2), (4, 2)):
    ck.save(step, state, '{}', best=best)
  assert ck.all_steps() == [2, 4]
  ck.save(5, state, '{}', best=5)   # a new best: the old one goes only after 5 is committed
  assert ck.all_steps() == [5]
  ck.close()
