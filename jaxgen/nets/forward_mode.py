"""Forward-mode derivatives (`jax.jvp`) through the networks, and the one setting that has none.

Every network the score and flow families use (the U-Net in its DDPM++ and NCSN++ settings, with
attention, the DiT and the score MLP) is made of operations with JVP rules, so ``jax.jvp`` runs
through it in training mode (dropout with a fixed key) and in evaluation mode, in x and in the
time label (tests/nets/test_jvp.py and test_dit.py check it against central finite differences). The exception is attention
on cuDNN's fused kernel, ``attn_impl='cudnn'``: JAX defines it as a ``custom_vjp``, which has no
forward-mode rule, so ``jax.jvp`` through it raises. ``attn_impl=''`` lets JAX choose, which is
XLA's attention in JAX 0.12 (the tested default).

A loss that needs forward mode through its network (e.g. MeanFlow's target, continuous-time
consistency models) refuses the fused kernel at validation: its family's ``cross_checks`` adds
`problems(config.model, 'its loss')`. Refusing rather than giving attention a ``custom_jvp``:
a ``custom_jvp`` also replaces the reverse pass (JAX transposes the JVP), which would throw away
the fused backward kernel that is the reason to choose cuDNN.
"""

from __future__ import annotations


def _cudnn_keys(section, prefix: str):
  items = section.items() if hasattr(section, 'items') else ()
  for key, value in items:
    if hasattr(value, 'items'):
      yield from _cudnn_keys(value, f'{prefix}.{key}')
    elif key == 'attn_impl' and value == 'cudnn':
      yield f'{prefix}.{key}'


def problems(model, needs: str, prefix: str = 'model') -> list[str]:
  """One line per ``attn_impl='cudnn'`` in the ``model`` config section (a ConfigDict or dict
  at ``config.<prefix>``), naming the key and the fix; `needs` says what needs ``jax.jvp``."""
  return [f"config.{key}='cudnn' has no forward-mode derivative (cuDNN's fused attention is a "
          f"custom_vjp), but {needs} needs jax.jvp through the network: set --config.{key}=xla "
          "(or '' to let XLA choose)" for key in _cudnn_keys(model, prefix)]
