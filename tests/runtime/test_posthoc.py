"""Post-hoc EMA in training (`jaxgen.runtime.state`, `jaxgen.runtime.posthoc`): the train step's
power-function EMA of a linearly moving parameter is its closed form; a run snapshots its
profiles every train.posthoc_every steps, keeps every snapshot whatever keep_checkpoints; a
resumed run writes the snapshots of an uninterrupted one, bit for bit; reconstructing a tracked
profile returns its snapshot; ``eval.posthoc_sigma_rel`` opens a run with the reconstruction."""

import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgen.distributions import power_ema
from jaxgen.models.base import Model
from jaxgen.runtime import loop
from jaxgen.runtime import parallel
from jaxgen.runtime import posthoc
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import state as state_lib
from jaxgen.store import checkpoint as ckpt_lib
from tests.conftest import tiny_config

SIGMAS = (0.05, 0.1)
OVER = {'optim.posthoc_ema': str(SIGMAS), 'train.posthoc_every': '3', 'train.steps': '12',
        'train.checkpoint_every': '6'}


def test_train_step_tracks_the_closed_form_of_a_linear_parameter():
  """SGD on a loss with a constant gradient moves w linearly: w_k = w_0 - lr c k; each profile
  after n steps is w_0 - lr c (n - sum_{k<n} (k/n)^(gamma+1)) (power_ema's closed form)."""
  c, lr, n = jnp.array([1.0, -3.0]), 0.1, 40
  model = Model(init=None, loss=lambda p, batch, rng: (jnp.sum(p['w'] * c), {}), sample=None)
  tx = optax.sgd(lr)
  params = {'w': jnp.array([0.5, 2.0])}
  state = state_lib.PosthocTrainState(
      step=jnp.zeros((), jnp.int32), params=params, ema_params=params, opt_state=tx.init(params),
      rng=jax.random.PRNGKey(0), posthoc=(params, params))
  step = jax.jit(state_lib.make_train_step(model, tx, 0.0, lambda s: lr, posthoc_ema=SIGMAS))
  for _ in range(n):
    state, _ = step(state, {})
  k = np.arange(n, dtype=np.float64)
  for s, tree in zip(SIGMAS, state.posthoc):
    g = power_ema.sigma_rel_to_gamma(s)
    want = np.array([0.5, 2.0]) - lr * np.asarray(c) * (n - np.sum((k / n) ** (g + 1)))
    np.testing.assert_allclose(tree['w'], want, rtol=2e-5)


def _snapshot(workdir, step):
  c = ckpt_lib.Checkpointer(str(workdir), keep=0, folder=posthoc.FOLDER)
  try:
    run = run_lib.Run(tiny_config(**OVER))
    abstract = {'step': jax.ShapeDtypeStruct((), jnp.int32),
                'posthoc': (run.abstract_params(),) * len(SIGMAS),
                'rng': jax.eval_shape(lambda: jax.random.PRNGKey(0))}
    return jax.device_get(c.restore(ckpt_lib.abstract(abstract, parallel.replicated(run.mesh)),
                                    step))
  finally:
    c.close()


@pytest.fixture(scope='module')
def straight(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('posthoc') / 'straight'
  loop.train(tiny_config(**OVER, **{'train.keep_checkpoints': '1'}), str(workdir))
  return workdir


def test_snapshots_are_kept_whatever_keep_checkpoints(straight):
  assert posthoc.snapshot_steps(str(straight)) == [3, 6, 9, 12]
  assert sorted(os.listdir(straight / 'checkpoints')) == ['12']
  snap = _snapshot(straight, 12)
  assert int(snap['step']) == 12 and len(snap['posthoc']) == 2


def test_resumed_run_writes_the_same_snapshots(straight, tmp_path):
  """A run killed after snapshot 9 was due but before checkpoint 12 committed (both removed)
  resumes from checkpoint 6 and writes snapshots 9 and 12 identical to the straight run's."""
  workdir = tmp_path / 'resumed'
  config = tiny_config(**OVER)
  loop.train(config, str(workdir))
  for folder in ('checkpoints/12', 'posthoc/9', 'posthoc/12'):
    shutil.rmtree(workdir / folder)
  loop.train(config, str(workdir))
  assert posthoc.snapshot_steps(str(workdir)) == [3, 6, 9, 12]
  for step in (3, 6, 9, 12):
    a, b = _snapshot(straight, step), _snapshot(workdir, step)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
      np.testing.assert_array_equal(x, y)


def test_reconstructing_a_tracked_profile_returns_its_snapshot(straight):
  run = run_lib.Run(tiny_config(**OVER))
  for step, i in ((12, 1), (9, 0)):
    params, record = posthoc.reconstruct(run, str(straight), SIGMAS[i], step)
    assert record['snapshots'] == [s for s in (3, 6, 9, 12) if s <= step]
    want = _snapshot(straight, step)['posthoc'][i]
    for x, y in zip(jax.tree.leaves(params), jax.tree.leaves(want), strict=True):
      np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


def test_eval_posthoc_sigma_rel_opens_the_reconstruction(straight):
  run = run_lib.open_run(str(straight), {'eval.posthoc_sigma_rel': '0.1'})
  want = _snapshot(straight, 12)['posthoc'][1]
  for x, y in zip(jax.tree.leaves(run.params), jax.tree.leaves(want), strict=True):
    np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
  plain = run_lib.open_run(str(straight))
  assert any(not np.allclose(x, y) for x, y in
             zip(jax.tree.leaves(plain.params), jax.tree.leaves(run.params)))
