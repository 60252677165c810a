"""Random FID Inception weights in pytorch-fid's state-dict layout (torch names and kernel
layouts), built from our parameter shapes."""

import jax
import numpy as np

from jaxgen.nets import inception


def state_dict_like(shapes, seed=0):
  """A state dict (torch names and layouts) with random values, from our parameter shapes."""
  rng = np.random.default_rng(seed)
  inv = {v: k for k, v in inception._BN_KEYS.items()}
  sd = {}
  for path, leaf in jax.tree_util.tree_leaves_with_path(shapes):
    names = [p.key for p in path]
    if names[0] == 'fc':
      sd['fc.weight' if names[1] == 'kernel' else 'fc.bias'] = (
          rng.normal(size=leaf.shape[::-1]) if names[1] == 'kernel' else rng.normal(size=leaf.shape))
      continue
    shape = leaf.shape
    if names[-1] == 'kernel':
      fan_in = shape[0] * shape[1] * shape[2]
      val = rng.normal(size=(shape[3], shape[2], shape[0], shape[1])) * np.sqrt(2 / fan_in)
    elif names[-1] in ('bn_scale', 'bn_var'):
      val = rng.uniform(0.5, 1.5, shape)
    else:
      val = 0.1 * rng.normal(size=shape)
    sd['.'.join(names[:-1] + [inv[names[-1]]])] = val.astype(np.float32)
  return sd
