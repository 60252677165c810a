"""A disk that fills during a save: one CheckpointError line naming the step, the folder and
'No space left on device' (no tracebacks from Orbax's threads), the earlier checkpoint intact,
the temporary folder removed, and the next save works once there is space again.

On a real small tmpfs where the tests may mount one (root, Linux), else with ENOSPC raised in
the background save thread (the digest writer), which takes the same path.
"""

import errno
import json
import os
import subprocess

import jax
import numpy as np
import pytest

from jaxgen.store import checkpoint as ckpt_lib
from jaxgen.store import digest as digest_lib

N = 100_000  # 400 kB per array


def tree(step):
  return {'w': np.full((N,), float(step), np.float32), 'step': np.int32(step)}


def target():
  return ckpt_lib.abstract(tree(0), jax.sharding.SingleDeviceSharding(jax.devices()[0]))


@pytest.fixture(params=['tmpfs', 'simulated'])
def full_disk(request, tmp_path, monkeypatch):
  """(workdir, fill, free): fill() leaves ~60 kB on the workdir's disk, free() undoes it."""
  workdir = tmp_path / 'mnt'
  workdir.mkdir()
  filler = workdir / 'filler'
  if request.param == 'tmpfs':
    if os.geteuid() != 0 or subprocess.run(
        ['mount', '-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', str(workdir)],
        capture_output=True).returncode != 0:
      pytest.skip('cannot mount a tmpfs here (the simulated case covers it)')
    request.addfinalizer(lambda: subprocess.run(['umount', '-l', str(workdir)]))

    def fill():
      st = os.statvfs(workdir)
      with open(filler, 'wb') as f:
        f.write(b'\0' * max(st.f_bavail * st.f_frsize - 60_000, 0))

    def free():
      os.remove(filler)
  else:
    state = {'full': False}
    original = digest_lib.Handler._save_fn

    async def save_fn(self, x, directory):
      if state['full']:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(directory / 'metadata'))
      return await original(self, x, directory)
    monkeypatch.setattr(digest_lib.Handler, '_save_fn', save_fn)

    def fill():
      state['full'] = True

    def free():
      state['full'] = False
  return str(workdir), fill, free


@pytest.mark.parametrize('surfaces_at', ['wait', 'next save'])
def test_disk_full_names_the_failed_save_and_keeps_the_earlier_checkpoint(
    full_disk, surfaces_at, capfd):
  workdir, fill, free = full_disk
  ck = ckpt_lib.Checkpointer(workdir, keep=1)
  ck.save(1, tree(1), json.dumps({'seed': 0}))
  ck.wait()
  fill()
  capfd.readouterr()
  with pytest.raises(ckpt_lib.CheckpointError) as e:
    ck.save(2, tree(2), '{}')  # async: may fail later, in Orbax's background threads
    if surfaces_at == 'wait':
      ck.wait()
    else:
      ck.save(3, tree(3), '{}')
  msg = str(e.value)
  directory = os.path.join(workdir, 'checkpoints')
  assert msg.startswith(f'could not save checkpoint step 2 to {directory}/2: '
                        'No space left on device; the earlier checkpoints are intact '
                        '(newest: step 1)'), msg
  assert '\n' not in msg
  err = capfd.readouterr().err
  assert 'Traceback' not in err, err
  assert sorted(os.listdir(directory)) == ['1']  # tmp folder gone, step 1 kept (keep=1)
  free()
  ck.save(3, tree(3), '{}')  # space again: saving works, and only now does keep=1 drop step 1
  ck.close()
  assert sorted(os.listdir(directory)) == ['3']
  ck = ckpt_lib.Checkpointer(workdir)
  restored = jax.device_get(ck.restore(target()))
  ck.close()
  np.testing.assert_array_equal(restored['w'], tree(3)['w'])


def test_disk_full_keeps_the_previous_checkpoint_restorable(full_disk):
  workdir, fill, free = full_disk
  ck = ckpt_lib.Checkpointer(workdir, keep=1)
  ck.save(1, tree(1), '{}')
  ck.wait()
  fill()
  with pytest.raises(ckpt_lib.CheckpointError, match='step 2 .*No space left on device'):
    ck.save(2, tree(2), '{}', force=True)
    ck.close()
  free()
  ck = ckpt_lib.Checkpointer(workdir)
  restored = jax.device_get(ck.restore(target()))
  ck.close()
  assert ck.restored_step == 1
  np.testing.assert_array_equal(restored['w'], tree(1)['w'])
