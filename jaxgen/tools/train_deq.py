"""Post-hoc variational dequantization (Flow++'s q(u | k), as score_flow's ``train_deq``) of a
trained continuous-likelihood run (score SDE, rectified flow, cnf): the model is frozen, q is
trained to maximise the bound of `jaxgen.metrics.dequantization`,

    E_{u ~ q}[log p(x(k + u)) - log q(u | k)],   x(k + u) the run's data scaling of level k,

with the run's own log-likelihood (its ``params``, EMA if the run evaluates with them).

Cost: every step differentiates the model's ODE log-likelihood with respect to its input,
through a fixed-step solve (``solver`` with ``solver_steps`` intervals and ``probes`` Hutchinson
probes; a few times the cost of one likelihood evaluation of the batch). The final evaluation
uses the run's ``likelihood`` section (adaptive solves, much dearer per example).

Files: q's training state under ``<run>/dequantizer/checkpoints/<step>`` through the checkpoint
layer (`jaxgen.runtime.trained_dequantizer`; the same command resumes from the newest good step)
and ``<run>/dequantizer/metrics.json``: ``eval/bpd`` (the uniform bound) beside ``eval/bpd_vdeq``
(`jaxgen.runtime.evaluators.variational_dequantization`), the step and what each bound is.
``launch.evaluate`` on the run reports the same ``bpd_vdeq`` from the trained q, with per-example
values (what a table row reads).
"""

from __future__ import annotations

import dataclasses
import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgen.nets import dequantizer
from jaxgen.ode import solvers
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import evaluate
from jaxgen.runtime import parallel
from jaxgen.runtime import trained_dequantizer as trained
from jaxgen.runtime.evaluators import likelihood as likelihood_eval
from jaxgen.runtime.evaluators import variational_dequantization as vdeq_eval
from jaxgen.store import checkpoint as ckpt_lib
from jaxgen.store import paths


@dataclasses.dataclass(frozen=True)
class Settings:
  """What the command trains (defaults: ``launch.train_deq``'s flags): q's size (``couplings``,
  ``hidden``: `jaxgen.nets.dequantizer`), the optimisation (Adam, ``lr``; ``steps`` of
  ``batch_size`` training examples, a checkpoint every ``checkpoint_every``) and the training
  solve (``solver``, ``solver_steps``, ``probes``); ``evaluate`` 0 skips the final evaluation
  (``launch.evaluate --config.eval.metrics="('bpd', 'bpd_vdeq')"`` reports both bounds later)."""

  steps: int
  batch_size: int
  lr: float
  couplings: int
  hidden: int
  solver: str
  solver_steps: int
  probes: int
  checkpoint_every: int
  seed: int
  evaluate: int = 1


def problem(run) -> str | None:
  """Why `run` has no continuous likelihood of integer images to dequantize, or None."""
  model, spec = run.model, run.data.spec
  family = run.config.model.family
  if model.log_prob is None or model.discrete:
    return (f'family {family!r} has ' + ('no likelihood' if model.log_prob is None else
            'an exact discrete likelihood') + ': there is nothing to dequantize')
  if spec.num_levels is None:
    return f'{spec.name} is continuous data: there are no integer levels to dequantize'
  if len(spec.shape) != 3:
    return f'the dequantizer models images [h, w, c]; {spec.name} has shape {tuple(spec.shape)}'
  return None


def settings_problem(settings: Settings) -> str | None:
  """The first flag of `settings` out of its range (one line naming it), or None."""
  for name in ('steps', 'batch_size', 'couplings', 'hidden', 'solver_steps', 'probes',
               'checkpoint_every'):
    if getattr(settings, name) < 1:
      return f'--{name}={getattr(settings, name)} must be >= 1'
  if settings.evaluate not in (0, 1):
    return f'--evaluate={settings.evaluate} must be 0 or 1'
  if not settings.lr > 0:
    return f'--lr={settings.lr} must be > 0'
  fixed = [n for n in solvers.names() if not solvers.get(n).adaptive]
  if settings.solver not in fixed:
    return f'--solver={settings.solver}: the training solve is fixed-step, one of {fixed}'
  return None


def train(run, workdir: str, settings: Settings) -> dict:
  """Trains (or resumes) q for `run` (module doc); returns the metrics written."""
  why = settings_problem(settings) or problem(run)
  if why is not None:
    raise cfg_lib.ConfigError(f'--workdir={workdir}: {why}')
  spec, model_params = run.data.spec, run.params
  module = trained.module(settings.couplings, settings.hidden, spec.num_levels)
  train_density = trained.log_density(run, {'solver': settings.solver, 'steps':
                                            settings.solver_steps, 'probes': settings.probes})
  optimizer = optax.adam(settings.lr)

  bound = functools.partial(trained.bound, module)   # (params, x, rng, density, spec) -> [b]

  @jax.jit
  def step_fn(model_params, state, x, rng):
    loss, grads = jax.value_and_grad(lambda q: -jnp.mean(bound(
        {'model': model_params, 'q': q}, x, rng, train_density, spec)) / spec.dim)(state['params'])
    updates, opt_state = optimizer.update(grads, state['opt_state'], state['params'])
    return {'step': state['step'] + 1, 'params': optax.apply_updates(state['params'], updates),
            'opt_state': opt_state}, loss

  x0 = run.data.train_batch(0, settings.batch_size)['x']
  q0 = dequantizer.init(module, jax.random.PRNGKey(settings.seed),
                        jnp.zeros(x0.shape, jnp.float32))
  state = {'step': jnp.zeros((), jnp.int32), 'params': q0, 'opt_state': optimizer.init(q0)}
  folder = trained.folder(workdir)
  checkpointer = ckpt_lib.Checkpointer(folder, keep=2, async_save=False)
  config_json = json.dumps(dataclasses.asdict(settings))
  if checkpointer.latest_step() is not None:
    state = checkpointer.restore(ckpt_lib.abstract(state, parallel.replicated(run.mesh)))
    print(f'train_deq: resumed from step {int(state["step"])}', flush=True)
  base = jax.random.PRNGKey(settings.seed + 1)
  while int(state['step']) < settings.steps:
    s = int(state['step'])
    x = jnp.asarray(run.data.train_batch(s, settings.batch_size)['x'])
    state, loss = step_fn(model_params, state, x, jax.random.fold_in(base, s))
    if (s + 1) % settings.checkpoint_every == 0 or s + 1 == settings.steps:
      checkpointer.save(s + 1, state, config_json)
      print(f'train_deq: step {s + 1}, -bound {float(loss):.4f} nats/dim', flush=True)
  checkpointer.close()
  if not settings.evaluate:
    return {'step': int(state['step'])}
  return _evaluate(run, folder, state, bound)


def _evaluate(run, folder, state, bound) -> dict:
  """``eval/bpd`` and ``eval/bpd_vdeq`` on the run's evaluation split, the run's likelihood
  section and evaluation key; written to ``metrics.json`` in `folder`."""
  inputs = evaluate.inputs(run)
  ec = inputs.eval_config
  draws, deq = int(ec.dequant_draws), bool(ec.dequantize)
  evaluated = likelihood_eval.evaluated_spec(inputs.spec, False, (), deq)
  density = trained.log_density(run)
  stats = inputs.log_prob_stats_fn
  uniform = likelihood_eval.Evaluator(
      ('bpd',), lambda p, b, r: inputs.log_prob_fn(p['model'], b, r),
      None if stats is None else (lambda p, b, r: stats(p['model'], b, r)),
      inputs.log_prob_options, inputs.batches, inputs.mesh, inputs.spec, False, draws, deq)
  variational = vdeq_eval.Evaluator(
      lambda p, b, r: bound(p, b['x'], r, density, evaluated), inputs.batches, inputs.mesh,
      inputs.spec, draws, deq, inputs.log_prob_options)
  params = {'model': run.params, 'q': state['params']}
  out = {'step': int(state['step'])}
  for evaluator in (uniform, variational):
    out.update(evaluator.run(params, run.eval_rng()))
    out.update(evaluator.identity())
  out = {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in out.items()}
  paths.write_atomic(paths.join(folder, 'metrics.json'), json.dumps(out, indent=1))
  return out
