"""The learning-rate schedule and the optimizer of ``config.optim`` (optax)."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax


def learning_rate(optim, total_steps: int) -> Callable[[jax.Array], jax.Array]:
  """Linear warm-up from 0 to optim.lr over warmup_steps, then the chosen decay."""

  def schedule(step):
    step = jnp.asarray(step, jnp.float32)
    lr = optim.lr
    if optim.decay == 'exponential':
      lr = lr * optim.decay_rate ** step
    elif optim.decay == 'cosine':
      frac = jnp.clip(step / max(total_steps, 1), 0.0, 1.0)
      lr = lr * 0.5 * (1 + jnp.cos(jnp.pi * frac))
    if optim.warmup_steps:
      lr = lr * jnp.minimum(1.0, step / optim.warmup_steps)
    return lr

  return schedule


def make_optimizer(optim, total_steps: int) -> tuple[optax.GradientTransformation, Callable]:
  """``(tx, schedule)``: clipping (global norm) followed by Adam / AdamW / RMSProp, and the
  learning-rate schedule it follows (`learning_rate`, built once for both)."""
  lr = learning_rate(optim, total_steps)
  if optim.optimizer == 'adam':
    opt = optax.adam(lr, b1=optim.b1, b2=optim.b2, eps=optim.eps)
  elif optim.optimizer == 'adamw':
    opt = optax.adamw(lr, b1=optim.b1, b2=optim.b2, eps=optim.eps,
                      weight_decay=optim.weight_decay)
  else:
    opt = optax.rmsprop(lr, decay=optim.b2, eps=optim.eps, momentum=optim.momentum or None)
  parts = [optax.clip_by_global_norm(optim.grad_clip)] if optim.grad_clip else []
  return optax.chain(*parts, opt), lr
