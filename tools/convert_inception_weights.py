"""Convert pytorch-fid's FID Inception weights (a PyTorch state dict) to the .npz that
`jaxgen.nets.inception.load_weights` reads.

    # where torch is installed (no jax, no jaxgen needed):
    wget https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth
    python tools/convert_inception_weights.py pt_inception-2015-12-05-6726825d.pth inception_fid.npz

The .npz keeps the state dict's own key names and torch layouts (float32; the integer
`num_batches_tracked` counters are dropped); `jaxgen.nets.inception.params_from_state_dict` does
the renaming and transposes, so the mapping lives in one place and this script needs only torch
and numpy. It lives in tools/ (not benchmarks/, which holds measurements, nor launch/, which may
only import jaxgen.runtime) because it is a one-off user step that runs in a torch environment.
"""

from __future__ import annotations

import argparse
import hashlib

import numpy as np


def convert(pth_path: str, out_path: str) -> int:
  import torch
  sd = torch.load(pth_path, map_location='cpu', weights_only=True)
  if 'state_dict' in sd and not any(k.startswith('Conv2d_1a') for k in sd):
    sd = sd['state_dict']
  arrays = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in sd.items()
            if not k.endswith('num_batches_tracked')}
  if 'Conv2d_1a_3x3.conv.weight' not in arrays or 'Mixed_7c.branch_pool.conv.weight' not in arrays:
    raise SystemExit(f'error: {pth_path} does not look like pytorch-fid\'s FID Inception state dict')
  np.savez(out_path, **arrays)
  return len(arrays)


def main():
  ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  ap.add_argument('pth', help='pt_inception-2015-12-05-6726825d.pth (or any state dict of '
                  "pytorch-fid's fid_inception_v3())")
  ap.add_argument('out', help='output .npz')
  args = ap.parse_args()
  n = convert(args.pth, args.out)
  digest = hashlib.sha256(open(args.pth, 'rb').read()).hexdigest()
  print(f'wrote {n} arrays to {args.out} (source sha256 {digest[:8]}...; pytorch-fid\'s file '
        f'name carries the first 8 hex digits: 6726825d)')


if __name__ == '__main__':
  main()
