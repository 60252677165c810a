"""Training throughput: jaxgen's DDPM++ / DDPM U-Net vs diffusers' `UNet2DModel` (PyTorch).

One training step on both sides = forward at a random t, the DDPM denoising (eps-prediction MSE)
loss, backward, and an Adam update; dropout 0.1 on, batch of [b, S, S, 3] synthetic data, t in
0..999 on the linear DDPM schedule. JAX: one `jax.jit` step with donated state; PyTorch:
`model.train()`, `loss.backward()`, `torch.optim.Adam` (eager; --torch-threads). Each side:
--warmup steps (compile / allocator warm-up), then --repeats timed runs of --steps steps
(`block_until_ready` / `cuda.synchronize`); reported: median steps/s, images/s, and the median
process CPU seconds per step (all threads; less sensitive to other jobs on a shared CPU).

Networks (`--nf`, `--blocks` scale both sides identically; full size is nf 128):
  jaxgen ddpmpp   DDPM++ cont. (score_sde VP config: BigGAN blocks, skip rescale, 4 blocks/res)
  jaxgen ddpm     our U-Net switched to DDPM's architecture (DDPM res blocks, conv resampling,
                  no skip rescale, --blocks blocks/res): the like-for-like peer of diffusers
  diffusers ddpm  UNet2DModel as google/ddpm-cifar10-32 (block_out_channels nf*(1,2,2,2),
                  layers_per_block --blocks, attention at 16x16, GroupNorm 32, eps 1e-6)
The two "ddpm" nets differ only in that DDPM/diffusers put an attention layer after *every*
16x16 block on the way up and we put one per resolution (NCSN++'s layout): see the param counts.

The torch side runs in another interpreter (`--torch-python`, e.g. a Python 3.11 venv with the
CPU torch wheel: requirements-bench.txt), as `--side torch`; the driver runs the JAX side
in-process after the torch side, and prints one JSON line per net plus a table with the ratio.

    # CPU, reduced nets (nf 32; ~10 min on the 2 shared cores, mostly XLA compilation):
    JAX_PLATFORMS=cpu .venv/bin/python -m benchmarks.ddpmpp_vs_diffusers \\
        --torch-python /work/bench311/bin/python --nf 32 --blocks 2 --batch 8
    # the torch side alone, single-threaded (robust to an oversubscribed CPU):
    .venv/bin/python -m benchmarks.ddpmpp_vs_diffusers --arch '' --torch-threads 1 \\
        --torch-python /work/bench311/bin/python --nf 32 --blocks 2 --batch 8
    # GPU, full size (needs a CUDA jax and a CUDA torch); once per --dtype float32 | bfloat16
    # (JAX: bf16 compute, f32 params; torch: autocast bf16):
    .venv/bin/python -m benchmarks.ddpmpp_vs_diffusers --device gpu --nf 128 --blocks 2 \\
        --batch 128 --steps 20 --repeats 5 --dtype bfloat16 --torch-python python
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time


def _betas(n=1000):
  import numpy as np
  return np.linspace(1e-4, 0.02, n)


def _median_rate(step, n_steps, repeats):
  """Median steps/s over `repeats` runs of `n_steps`, and the median CPU seconds per step (all
  threads of this process: less sensitive than wall time to other jobs on a shared CPU)."""
  times, cpu = [], []
  for _ in range(repeats):
    t0, c0 = time.perf_counter(), time.process_time()
    step(n_steps)
    times.append(time.perf_counter() - t0)
    cpu.append((time.process_time() - c0) / n_steps)
  return n_steps / statistics.median(times), times, statistics.median(cpu)


# ----------------------------------------------------------------------------- JAX side


def run_jax(args, arch):
  import jax
  import jax.numpy as jnp
  import numpy as np
  import optax

  from jaxgen.nets import unet

  cfg = unet.ddpmpp_cifar10()
  cfg.nf = args.nf
  cfg.dtype = args.dtype
  cfg.remat = args.remat
  if arch == 'ddpm':
    cfg.update(dict(resblock_type='ddpm', resamp_with_conv=True, skip_rescale=False,
                    num_res_blocks=args.blocks, init_scale=1.0))
  elif args.blocks_ddpmpp:
    cfg.num_res_blocks = args.blocks_ddpmpp
  net = unet.build(cfg)
  b, s = args.batch, args.size
  key = jax.random.PRNGKey(0)
  x = jax.random.uniform(key, (b, s, s, 3)) * 2 - 1
  # eager (op-by-op) init: on a busy CPU, jit-compiling init of the full net takes minutes
  params = net.init(key, x[:1], jnp.zeros((1,)))['params']
  n_params = sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(params))
  tx = optax.adam(2e-4)
  state = (params, tx.init(params), key)
  abar = jnp.asarray(np.cumprod(1 - _betas()), jnp.float32)

  def loss_fn(p, x, k):
    kt, ke, kd = jax.random.split(k, 3)
    t = jax.random.randint(kt, (b,), 0, 1000)
    eps = jax.random.normal(ke, x.shape)
    a = abar[t][:, None, None, None]
    xt = jnp.sqrt(a) * x + jnp.sqrt(1 - a) * eps
    out = net.apply({'params': p}, xt, t.astype(jnp.float32), train=True, rngs={'dropout': kd})
    return jnp.mean((out - eps) ** 2)

  def train_step(state, x):
    p, opt, k = state
    k, sub = jax.random.split(k)
    loss, g = jax.value_and_grad(loss_fn)(p, x, sub)
    upd, opt = tx.update(g, opt, p)
    return (optax.apply_updates(p, upd), opt, k), loss

  train_step = jax.jit(train_step, donate_argnums=0)
  holder = [state]

  def steps(n):
    if n <= 0:
      return
    st = holder[0]
    for _ in range(n):
      st, loss = train_step(st, x)
    jax.block_until_ready(loss)
    holder[0] = st

  t0 = time.perf_counter()
  steps(1)
  compile_s = time.perf_counter() - t0
  steps(max(args.warmup - 1, 0))
  rate, times, cpu = _median_rate(steps, args.steps, args.repeats)
  return dict(side='jaxgen', arch=arch, params=n_params, batch=b, size=s, dtype=args.dtype,
              device=str(jax.devices()[0].platform), steps_per_s=rate, images_per_s=rate * b,
              cpu_s_per_step=cpu, first_step_s=compile_s, run_times_s=times)


# ----------------------------------------------------------------------------- torch side


def run_torch(args):
  import numpy as np
  import torch
  from diffusers import UNet2DModel

  dev = torch.device('cuda' if args.device == 'gpu' else 'cpu')
  if args.torch_threads:
    torch.set_num_threads(args.torch_threads)
  torch.manual_seed(0)
  nf = args.nf
  model = UNet2DModel(
      sample_size=args.size, in_channels=3, out_channels=3, layers_per_block=args.blocks,
      block_out_channels=(nf, 2 * nf, 2 * nf, 2 * nf),
      down_block_types=('DownBlock2D', 'AttnDownBlock2D', 'DownBlock2D', 'DownBlock2D'),
      up_block_types=('UpBlock2D', 'UpBlock2D', 'AttnUpBlock2D', 'UpBlock2D'),
      norm_num_groups=min(32, nf // 4), norm_eps=1e-6, act_fn='silu',
      time_embedding_type='positional', flip_sin_to_cos=False, freq_shift=1,
      downsample_padding=0, dropout=0.1).to(dev)
  n_params = sum(p.numel() for p in model.parameters())
  opt = torch.optim.Adam(model.parameters(), lr=2e-4)
  b, s = args.batch, args.size
  x = torch.rand(b, 3, s, s, device=dev) * 2 - 1
  abar = torch.tensor(np.cumprod(1 - _betas()), dtype=torch.float32, device=dev)
  model.train()
  use_bf16 = args.dtype == 'bfloat16'

  def one_step():
    t = torch.randint(0, 1000, (b,), device=dev)
    eps = torch.randn_like(x)
    a = abar[t].view(b, 1, 1, 1)
    xt = a.sqrt() * x + (1 - a).sqrt() * eps
    with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=use_bf16):
      out = model(xt, t).sample
    loss = ((out.float() - eps) ** 2).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss

  def steps(n):
    if n <= 0:
      return
    for _ in range(n):
      loss = one_step()
    loss.item()
    if dev.type == 'cuda':
      torch.cuda.synchronize()

  t0 = time.perf_counter()
  steps(1)
  first = time.perf_counter() - t0
  steps(max(args.warmup - 1, 0))
  rate, times, cpu = _median_rate(steps, args.steps, args.repeats)
  return dict(side='diffusers', arch='ddpm', params=n_params, batch=b, size=s, dtype=args.dtype,
              device=dev.type, threads=torch.get_num_threads(), steps_per_s=rate,
              images_per_s=rate * b, cpu_s_per_step=cpu, first_step_s=first, run_times_s=times,
              torch=torch.__version__)


# ----------------------------------------------------------------------------- driver


def _load():
  try:
    return os.getloadavg()[0]
  except OSError:
    return float('nan')


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument('--side', choices=['all', 'jax', 'torch'], default='all')
  p.add_argument('--arch', default='ddpm,ddpmpp', help="jaxgen nets: 'ddpm', 'ddpmpp' or both")
  p.add_argument('--device', choices=['cpu', 'gpu'], default='cpu')
  p.add_argument('--dtype', choices=['float32', 'bfloat16'], default='float32')
  p.add_argument('--nf', type=int, default=128)
  p.add_argument('--blocks', type=int, default=2, help='res blocks/resolution of the DDPM nets')
  p.add_argument('--blocks-ddpmpp', type=int, default=0,
                 help='res blocks/resolution of DDPM++ (0: its paper value, 4)')
  p.add_argument('--batch', type=int, default=8)
  p.add_argument('--size', type=int, default=32)
  p.add_argument('--steps', type=int, default=3, help='steps per timed run')
  p.add_argument('--repeats', type=int, default=3)
  p.add_argument('--warmup', type=int, default=2)
  p.add_argument('--remat', action='store_true')
  p.add_argument('--torch-python', default='', help='interpreter with torch + diffusers')
  p.add_argument('--torch-threads', type=int, default=0, help='torch CPU threads (0: default)')
  args = p.parse_args(argv)

  if args.side == 'torch':
    print(json.dumps(run_torch(args)))
    return
  if args.device == 'cpu':
    os.environ.setdefault('JAX_PLATFORMS', 'cpu')
  results = []
  load0 = _load()
  if args.side == 'all' and args.torch_python:
    cmd = [args.torch_python, os.path.abspath(__file__), '--side', 'torch']
    for k in ('device', 'dtype', 'nf', 'blocks', 'batch', 'size', 'steps', 'repeats', 'warmup',
              'torch_threads'):
      cmd += [f"--{k.replace('_', '-')}", str(getattr(args, k))]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps(r), flush=True)
    results.append(r)
  if args.side in ('all', 'jax'):
    for arch in [a for a in args.arch.split(',') if a]:
      r = run_jax(args, arch)
      print(json.dumps(r), flush=True)
      results.append(r)
  load1 = _load()

  print(f'\n1-min load average before/after: {load0:.1f} / {load1:.1f}')
  print(f"{'net':<18}{'params':>12}{'steps/s':>10}{'img/s':>10}{'CPU s/step':>12}"
        f"{'first step s':>14}")
  for r in results:
    print(f"{r['side'] + ' ' + r['arch']:<18}{r['params']:>12,}{r['steps_per_s']:>10.3f}"
          f"{r['images_per_s']:>10.2f}{r['cpu_s_per_step']:>12.2f}{r['first_step_s']:>14.1f}")
  torch_r = [r for r in results if r['side'] == 'diffusers']
  for r in results:
    if r['side'] == 'jaxgen' and torch_r:
      t = torch_r[0]
      print(f"ratio jaxgen {r['arch']} / diffusers ddpm: images/s "
            f"{r['images_per_s'] / t['images_per_s']:.2f}, CPU-time per step "
            f"{t['cpu_s_per_step'] / r['cpu_s_per_step']:.2f} (>1: jaxgen faster)")


if __name__ == '__main__':
  main()
