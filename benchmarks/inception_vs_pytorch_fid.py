"""Our FID Inception (jaxgen.nets.inception) vs pytorch-fid's, on random weights.

The torch side (`--side torch`, run by another interpreter that has torch, torchvision and
pytorch-fid: `--torch-python`) builds pytorch-fid's `fid_inception_v3()` structure, fills it with
random weights (He-normal convs, batch-norm statistics and affine drawn around 1 / 0 so
activations stay O(1) through the 94 convs), saves that state dict as a .pth (the stand-in for
`pt_inception-2015-12-05-6726825d.pth`), and runs pytorch-fid's own `InceptionV3([3])` wrapper,
loaded from that file, on random images in [0, 1] (its F.interpolate resize to 299 and 2x - 1
included): pool3 features, plus logits = fc(pool3). It also saves F.interpolate results of small
images (up- and downscaling) for the resize check.

The JAX side converts the .pth with tools/convert_inception_weights.py (in the torch
interpreter), loads it with `inception.load_weights`, runs our network on the same images and
prints the largest absolute and relative differences as one JSON line.

    # a Python 3.11 venv with torch (CPU), torchvision and pytorch-fid; ~1-2 min on 2 cores:
    JAX_PLATFORMS=cpu .venv/bin/python -m benchmarks.inception_vs_pytorch_fid \\
        --torch-python /work/venv-torch/bin/python

tests/nets/test_inception.py::test_matches_pytorch_fid (slow) runs the same comparison.

A CPU torch wheel next to a CUDA torchvision wheel (whose C++ ops cannot load) fails at
`import torchvision` on registering fake kernels for the missing ops; `_import_torchvision`
skips those registrations (pytorch-fid uses torchvision's Inception classes, none of its ops).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE_SHAPES = {'im32': (3, 32, 32, 3), 'im28': (2, 28, 28, 3)}
RESIZE_CASES = {'up7x5_to_11x13': ((2, 3, 7, 5), (11, 13)), 'down40_to_13': ((1, 2, 40, 40),
                                                                             (13, 13))}


# ----------------------------------------------------------------------------- torch side


def _import_torchvision():
  import torch.library as L
  orig = L.register_fake

  def safe(op, *a, **k):
    def deco(f):
      try:
        return orig(op, *a, **k)(f)
      except RuntimeError:  # the op's C++ kernel is absent: nothing to register a fake for
        return f
    return deco

  L.register_fake = safe
  try:
    import torchvision  # noqa: F401
  finally:
    L.register_fake = orig


def _randomize(model, gen):
  import torch
  with torch.no_grad():
    for name, m in model.named_modules():
      if isinstance(m, torch.nn.Conv2d):
        fan_in = m.weight[0].numel()
        m.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=gen)
      elif isinstance(m, torch.nn.BatchNorm2d):
        c = m.num_features
        m.weight.copy_(0.5 + torch.rand(c, generator=gen))
        m.bias.copy_(0.1 * torch.randn(c, generator=gen))
        m.running_mean.copy_(0.1 * torch.randn(c, generator=gen))
        m.running_var.copy_(0.5 + torch.rand(c, generator=gen))
      elif isinstance(m, torch.nn.Linear):
        m.weight.normal_(0.0, 2048 ** -0.5, generator=gen)
        m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))


def run_torch(out_dir, seed):
  import numpy as np
  import torch
  import torch.nn.functional as F
  _import_torchvision()
  from pytorch_fid import inception as pfi
  from torchvision.models.inception import Inception3

  torch.manual_seed(seed)
  gen = torch.Generator().manual_seed(seed)
  # the structure of fid_inception_v3() without its download
  orig_load, orig_url = Inception3.load_state_dict, pfi.load_state_dict_from_url
  Inception3.load_state_dict = lambda self, *a, **k: None
  pfi.load_state_dict_from_url = lambda *a, **k: None
  try:
    full = pfi.fid_inception_v3()
  finally:
    Inception3.load_state_dict, pfi.load_state_dict_from_url = orig_load, orig_url
  _randomize(full, gen)
  sd = full.state_dict()
  pth = os.path.join(out_dir, 'weights.pth')
  torch.save(sd, pth)
  # pytorch-fid's own wrapper, loading "the downloaded file"
  pfi.load_state_dict_from_url = lambda *a, **k: torch.load(pth, weights_only=True)
  try:
    model = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
  finally:
    pfi.load_state_dict_from_url = orig_url
  rng = np.random.default_rng(seed)
  res = {}
  with torch.no_grad():
    for key, shape in IMAGE_SHAPES.items():
      x = rng.uniform(size=shape).astype(np.float32)
      res[key] = x
      pool = model(torch.from_numpy(x).permute(0, 3, 1, 2))[0][:, :, 0, 0]
      res[key + '_pool3'] = pool.numpy()
      res[key + '_logits'] = full.fc(pool).numpy()
    for key, (shape, size) in RESIZE_CASES.items():
      x = rng.uniform(size=shape).astype(np.float32)
      res[key] = x
      res[key + '_out'] = F.interpolate(torch.from_numpy(x), size=size, mode='bilinear',
                                        align_corners=False).numpy()
  np.savez(os.path.join(out_dir, 'torch.npz'), **res)


# ----------------------------------------------------------------------------- JAX side


def compare(torch_python, out_dir, seed=0):
  """Run the torch side and the converter in `torch_python`, then ours; returns the errors."""
  import jax.numpy as jnp
  import numpy as np

  from jaxgen.nets import inception

  subprocess.run([torch_python, os.path.abspath(__file__), '--side', 'torch', '--out', out_dir,
                  '--seed', str(seed)], check=True)
  npz = os.path.join(out_dir, 'weights.npz')
  subprocess.run([torch_python, os.path.join(ROOT, 'tools', 'convert_inception_weights.py'),
                  os.path.join(out_dir, 'weights.pth'), npz], check=True)
  ref = np.load(os.path.join(out_dir, 'torch.npz'))
  f = inception.feature_fn(inception.load_weights(npz))
  errs = {}
  for key in IMAGE_SHAPES:
    out = f(jnp.asarray(ref[key]))
    for name, tkey in [('pool3', '_pool3'), ('logits', '_logits')]:
      a, b = np.asarray(out[name]), ref[key + tkey]
      errs[f'{key}_{name}_max_abs'] = float(np.max(np.abs(a - b)))
      errs[f'{key}_{name}_max_rel'] = float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
      errs[f'{key}_{name}_scale'] = float(np.max(np.abs(b)))
  for key, (_, size) in RESIZE_CASES.items():
    x = np.transpose(ref[key], (0, 2, 3, 1))
    ours = np.transpose(np.asarray(inception.resize_bilinear(jnp.asarray(x), size)), (0, 3, 1, 2))
    errs[f'resize_{key}_max_abs'] = float(np.max(np.abs(ours - ref[key + '_out'])))
  return errs


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument('--side', choices=['torch', 'both'], default='both')
  ap.add_argument('--out', default=None, help='folder for the .pth, .npz and torch outputs')
  ap.add_argument('--seed', type=int, default=0)
  ap.add_argument('--torch-python', default=os.environ.get('JAXGEN_TORCH_PYTHON',
                                                           '/work/venv-torch/bin/python'))
  args = ap.parse_args()
  if args.side == 'torch':
    run_torch(args.out, args.seed)
    return
  import tempfile
  sys.path.insert(0, ROOT)
  with tempfile.TemporaryDirectory() as tmp:
    print(json.dumps(compare(args.torch_python, args.out or tmp, args.seed)))


if __name__ == '__main__':
  main()
