"""One prepared accelerator benchmark: every jaxgen benchmark at its accelerator size, in <= 8 min.

    bash benchmarks/accelerator_suite.sh [--out DIR]             # a GPU / TPU (~8 min budget)
    JAX_PLATFORMS=cpu bash benchmarks/accelerator_suite.sh --tiny  # CPU smoke (tiny shapes)
    bash benchmarks/accelerator_suite.sh --sections ddpmpp_bf16,nice   # some sections only

Sections (in this order; each runs in its own Python process with its own time limit, so one that
fails, hangs or runs out of memory is recorded as such and the rest go on; the suite's budget,
--budget, caps the whole run: a section that no longer fits is recorded as skipped):

  env          device kind, platform, versions, which optional packages import
  matmul       the device's achieved matmul rate (n x n @ n x n, bf16 and fp32 at JAX's default
               precision): the ceiling the MFU figures below can be read against
  ddpmpp_fp32  the paper-size DDPM++ cont. (VP) training step, float32: the experiment
  ddpmpp_bf16  experiments/score_sde/ddpmpp_cont_vp.py (nf 128, 4 res blocks, batch 128, 32x32x3;
               bf16 = the U-Net's compute dtype, parameters stay float32) through jaxgen's own
               train step (`jaxgen.runtime.state.make_train_step`: DSM loss, Adam with warm-up and
               clipping, EMA, non-finite guard) on a device-resident batch of the CIFAR-10
               stand-in; images/s and model FLOPs utilisation (MFU): FLOPs per step from XLA's
               cost analysis of the compiled step (`jit(...).lower(...).compile().cost_analysis()`),
               peak FLOP/s of the device kind from `jaxgen.runtime.throughput.PEAKS` (unknown kind:
               MFU omitted, with a note)
  dit          SiT-B/2 (experiments/rectified_flow/fashion_mnist_dit.py:paper: DiT-B/2, 12 blocks,
               width 768, 2x2 patches, bf16) on 32x32x3 stand-in images (256 tokens), batch 128,
               through the same train step: attention by XLA, and by cuDNN's fused kernel on a GPU
  diffusers    the same-size net in PyTorch diffusers (`UNet2DModel` as google/ddpm-cifar10-32,
               `benchmarks.ddpmpp_vs_diffusers.run_torch`), float32 and bfloat16 autocast; skipped
               when torch or diffusers does not import (--torch-python chooses the interpreter)
  pixelcnn     cached ("fast") vs plain PixelCNN sampling (`benchmarks.pixelcnn_sampling`)
  nice         NICE (paper MNIST architecture) train-step throughput -> epoch time of 60k images,
               and a 10k-image exact log-likelihood pass (`benchmarks.nice_throughput`)
  likelihood   PF-ODE log-likelihood on the DDPM++ U-Net: jaxgen's in-graph diffrax dopri5 vs
               score_sde's host-side scipy RK45 (the method of `benchmarks.likelihood_vs_scipy`)
  ddpm_peer    jaxgen's U-Net switched to DDPM's architecture, the like-for-like peer of the
               diffusers net (`benchmarks.ddpmpp_vs_diffusers.run_jax`); only after diffusers ran

Every timing is the median of several timed runs after warm-up. Every figure records the device
kind, jax version, dtype, batch and the command that reproduces its section. Output (rewritten
after each section, so a killed run leaves what it measured): DIR/accelerator_suite.json and
DIR/accelerator_suite.md (Markdown table rows for BENCHMARKS.md). ``--tiny`` shrinks every shape
(and compiles with XLA's optimizations off) so that the whole suite runs on a CPU as a smoke test:
its numbers are not performance figures.

Needs: jax, flax, optax, chex, diffrax, scipy and ml_collections (jaxgen's configs); NOT orbax,
TensorFlow, tfds, grain or tensorboardX. On an image without ml_collections (the device machine's
CUDA image) carry its wheel: BENCHMARKS.md, "Accelerator suite".
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import io
import json
import math
import os
import platform
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from typing import Callable, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = 'jaxgen.accelerator_suite/1'
DIT_EXPERIMENT = 'experiments/rectified_flow/fashion_mnist_dit.py'
STATUSES = ('ok', 'failed', 'timeout', 'skipped')
# Every figure carries these (the JSON schema the tests check).
FIGURE_FIELDS = ('section', 'name', 'device_kind', 'platform', 'jax', 'dtype', 'batch', 'command',
                 'result')
SECTION_FIELDS = ('name', 'title', 'status', 'wall_s', 'timeout_s', 'command', 'figures', 'notes',
                  'error')

# ------------------------------------------------------------------------------ section plumbing


class Emitter:
  """A section's results, rewritten to `path` after every figure (so a timed-out section leaves
  what it measured): ``{'figures': [...], 'notes': [...], 'skipped': reason | None}``."""

  def __init__(self, path: str, section: str, args):
    self.path, self.section, self.args = path, section, args
    self.data = {'figures': [], 'notes': [], 'skipped': None}

  def _write(self):
    if not self.path:
      return
    tmp = self.path + '.tmp'
    with open(tmp, 'w') as f:
      json.dump(self.data, f, indent=1, default=_json_default)
    os.replace(tmp, self.path)

  def figure(self, **fields):
    fig = dict(section=self.section, command=section_command(self.section, self.args), **fields)
    self.data['figures'].append(fig)
    self._write()
    print('  result: ' + fig.get('result', ''), flush=True)
    return fig

  def note(self, text: str):
    self.data['notes'].append(text)
    self._write()
    print('  note: ' + text, flush=True)

  def skip(self, reason: str):
    self.data['skipped'] = reason
    self._write()
    print('  skipped: ' + reason, flush=True)


def _json_default(o):
  try:
    import numpy as np
    if isinstance(o, np.generic):
      return o.item()
    if isinstance(o, np.ndarray):
      return o.tolist()
  except ImportError:
    pass
  return str(o)


def section_command(section: str, args) -> str:
  """The command that reruns one section as this run ran it."""
  cmd = ['bash', 'benchmarks/accelerator_suite.sh', '--sections', section]
  if getattr(args, 'tiny', False):
    cmd.append('--tiny')
  if section == 'diffusers' and getattr(args, 'torch_python', ''):
    cmd += ['--torch-python', args.torch_python]
  prefix = 'JAX_PLATFORMS=' + os.environ['JAX_PLATFORMS'] + ' ' if os.environ.get(
      'JAX_PLATFORMS') else ''
  return prefix + ' '.join(shlex.quote(c) for c in cmd)


def jax_meta(dtype: str, batch) -> dict:
  """The fields every JAX figure carries."""
  import jax
  import jaxlib
  dev = jax.devices()[0]
  return dict(device_kind=dev.device_kind, platform=dev.platform,
              num_devices=jax.device_count(), jax=jax.__version__, jaxlib=jaxlib.__version__,
              dtype=dtype, batch=batch,
              matmul_precision=str(jax.config.jax_default_matmul_precision or 'default'))


def median_runs(fn: Callable[[], float], repeats: int) -> tuple[float, list[float]]:
  """``fn`` returns the seconds of one timed run; the median and all runs."""
  runs = [fn() for _ in range(repeats)]
  return statistics.median(runs), runs


def _memory(dev) -> Optional[int]:
  try:
    stats = dev.memory_stats() or {}
  except Exception:  # not every backend has memory stats
    return None
  return stats.get('peak_bytes_in_use')


def _fmt_flops(f: Optional[float]) -> str:
  if f is None:
    return '?'
  for unit, scale in (('PFLOP', 1e15), ('TFLOP', 1e12), ('GFLOP', 1e9), ('MFLOP', 1e6)):
    if f >= scale:
      return f'{f / scale:.3g} {unit}'
  return f'{f:.3g} FLOP'


# ------------------------------------------------------------------------------ sections


def section_env(em: Emitter, args):
  """Device kind, versions, optional imports (without importing torch: find_spec only)."""
  import importlib.util

  import jax
  optional = {}
  for mod in ('ml_collections', 'flax', 'optax', 'chex', 'diffrax', 'scipy', 'orbax.checkpoint',
              'etils', 'torch', 'diffusers', 'tensorflow', 'tensorflow_datasets', 'grain',
              'tensorboardX'):
    try:
      optional[mod] = importlib.util.find_spec(mod) is not None
    except (ImportError, ValueError):
      optional[mod] = False
  versions = {}
  for mod in ('flax', 'optax', 'diffrax', 'numpy', 'scipy'):
    try:
      versions[mod] = __import__(mod).__version__
    except Exception as e:  # record, do not fail the section over a version string
      versions[mod] = f'unavailable ({type(e).__name__})'
  devices = jax.devices()
  print(f'  devices: {devices}', flush=True)
  meta = jax_meta('-', '-')
  em.figure(name='environment', **meta, python=platform.python_version(),
            devices=[str(d) for d in devices], versions=versions, importable=optional,
            hostname=socket.gethostname(), cpu_count=os.cpu_count(),
            result=f"{meta['device_kind']} x{meta['num_devices']} ({meta['platform']}), "
            f"jax {meta['jax']}, python {platform.python_version()}")
  if not optional['ml_collections']:
    raise SystemExit('ml_collections does not import: jaxgen\'s configs need it; carry its wheel '
                     '(BENCHMARKS.md, "Accelerator suite")')


def section_matmul(em: Emitter, args):
  """Achieved n^3 matmul FLOP/s in bf16 and fp32 (JAX default precision)."""
  import jax

  from jaxgen.runtime.throughput import mfu
  n = 256 if args.tiny else 8192
  calls = 3 if args.tiny else 10
  for dtype in ('bfloat16', 'float32'):
    ka, kb = jax.random.split(jax.random.PRNGKey(0))
    a = jax.random.normal(ka, (n, n), dtype)
    b = jax.random.normal(kb, (n, n), dtype)
    f = jax.jit(lambda a, b: a @ b)
    jax.block_until_ready(f(a, b))

    def run():
      t = time.perf_counter()
      for _ in range(calls):
        out = f(a, b)
      jax.block_until_ready(out)
      return (time.perf_counter() - t) / calls

    med, runs = median_runs(run, 3 if args.tiny else 5)
    meta = jax_meta(dtype, '-')
    achieved = 2 * n**3 / med
    u = mfu(2 * n**3, 1 / med, meta['device_kind'], dtype, meta['matmul_precision'])
    frac = f", {u['mfu']:.0%} of the {u['peak_flops'] / 1e12:.0f} TFLOP/s peak" if u.get(
        'mfu') else ''
    em.figure(name=f'matmul {n}x{n}x{n}', **meta, n=n, seconds_per_matmul=med, runs_s=runs,
              achieved_flops=achieved, **{k: v for k, v in u.items() if k != 'achieved_flops'},
              result=f'{achieved / 1e12:.3g} TFLOP/s{frac}')


def _ddpmpp_config(args, dtype: str):
  """The DDPM++ cont. (VP) experiment config (paper size; --tiny: a 1-resolution nf-8 U-Net on
  8x8) with the U-Net's compute dtype and batch set."""
  from jaxgen.runtime import config as cfg_lib
  from jaxgen.runtime import overrides as overrides_lib
  over = {'model.unet.dtype': dtype, 'train.batch_size': str(args.batch or
                                                                (4 if args.tiny else 128))}
  if args.tiny:
    over.update({'model.unet.nf': '8', 'model.unet.num_res_blocks': '1',
                 'model.unet.ch_mult': '(1,)', 'model.unet.attn_resolutions': '(8,)'})
  config = cfg_lib.load(os.path.join(REPO, 'experiments/score_sde/ddpmpp_cont_vp.py'))
  config = cfg_lib.validate(overrides_lib.apply(config, over))
  size = 8 if args.tiny else 32
  return config, (size, size, 3)


def _spec(shape, **kw):
  """The data spec of the CIFAR-10 stand-in at `shape` (score_sde.build reads its shape)."""
  from jaxgen.data.source import DataSpec
  fields = dict(name='tfds:cifar10', shape=tuple(shape), low=-1.0, high=1.0, num_levels=256,
                num_classes=10, scale='symmetric')
  fields.update(kw)
  return DataSpec(**fields)


def _standin_x(shape, n: int):
  """n CIFAR-10 stand-in images (jaxgen.data.standin, no tfds), scaled to [-1, 1], resized to
  `shape` by striding (tiny)."""
  import numpy as np
  from jaxgen.data import standin
  x = standin.images('tfds:cifar10', 'train').images[:n]
  step = max(1, x.shape[1] // shape[0])
  x = x[:, ::step, ::step][:, :shape[0], :shape[1]]
  reps = -(-n // len(x))
  x = np.concatenate([x] * reps)[:n]
  return (x.astype(np.float32) / 255.0 * 2.0 - 1.0)


def _dit_config(args, attn_impl: str):
  """The SiT-B/2 config (`DIT_EXPERIMENT`'s ``paper`` variant: 12 blocks, width 768, 12 heads,
  2x2 patches, bf16) for 32x32x3 images (256 tokens: DiT-B/2's count on 256^2 images' 32x32
  latents) with ``attn_impl`` and the batch set; --tiny: 2 blocks of width 32 on 8x8."""
  from jaxgen.runtime import config as cfg_lib
  from jaxgen.runtime import overrides as overrides_lib
  over = {'model.dit.attn_impl': attn_impl,
          'train.batch_size': str(args.batch or (4 if args.tiny else 128))}
  if args.tiny:
    over.update({'model.dit.depth': '2', 'model.dit.width': '32', 'model.dit.heads': '2'})
  config = cfg_lib.load(os.path.join(REPO, DIT_EXPERIMENT) + ':paper')
  config = cfg_lib.validate(overrides_lib.apply(config, over))
  size = 8 if args.tiny else 32
  return config, (size, size, 3)


def _ddpmpp_train(em: Emitter, args, dtype: str):
  config, shape = _ddpmpp_config(args, dtype)
  _train_step(em, args, config, shape, dtype, name='jaxgen DDPM++ cont. train step',
              model='DDPM++ cont. (VP)', experiment='experiments/score_sde/ddpmpp_cont_vp.py'
              + (' (tiny U-Net)' if args.tiny else ''))


def _train_step(em: Emitter, args, config, shape, dtype: str, **fields):
  """Times jaxgen's train step of `config` on a device-resident batch of CIFAR-10 stand-in
  images of `shape`; one figure (images/s, XLA's FLOPs per step, MFU) with `fields`."""
  import jax

  from jaxgen.models import base as models_base
  from jaxgen.runtime import compile_options, optim, parallel
  from jaxgen.runtime import state as state_lib
  from jaxgen.runtime.throughput import mfu, xla_flops

  b = config.train.batch_size
  model = models_base.family_module(config.model.family).build(config, _spec(shape))
  tx, schedule = optim.make_optimizer(config.optim, config.train.steps)
  mesh = parallel.make_mesh(1)
  rep, bat = parallel.replicated(mesh), parallel.batch_sharding(mesh)
  # As jaxgen.runtime.run.Run builds it (one device; Run itself needs the data set on disk).
  step = jax.jit(state_lib.make_train_step(model, tx, config.optim.ema_rate, schedule,
                                           config.optim.ema_warmup),
                 in_shardings=(rep, bat), out_shardings=(rep, rep), donate_argnums=0)
  x = _standin_x(shape, b)
  t0 = time.perf_counter()
  state = state_lib.init_state(model, tx, config.seed, x[:1], mesh)
  jax.block_until_ready(state)
  init_s = time.perf_counter() - t0
  n_params = int(sum(v.size for v in jax.tree.leaves(state.params)))
  batch = parallel.shard_batch({'x': x}, mesh)
  print(f'  {n_params:,} params, batch {b} x {shape}, init {init_s:.1f} s; compiling', flush=True)
  t0 = time.perf_counter()
  with compile_options.fast_compile(args.tiny):
    lowered = step.lower(state, batch)
    compiled = lowered.compile()
  compile_s = time.perf_counter() - t0
  flops = xla_flops(compiled.cost_analysis())
  try:
    flops_lowered = xla_flops(lowered.cost_analysis())
  except Exception:  # not every jax version analyses unoptimised HLO
    flops_lowered = None
  print(f'  compiled in {compile_s:.1f} s; XLA: {_fmt_flops(flops)} per step', flush=True)
  holder = [state]

  def run_steps(n):
    st = holder[0]
    for _ in range(n):
      st, metrics = compiled(st, batch)
    jax.block_until_ready(metrics)
    holder[0] = st
    return metrics

  steps, repeats, warmup = (2, 3, 1) if args.tiny else (20, 5, 3)
  run_steps(warmup)

  def timed():
    t = time.perf_counter()
    run_steps(steps)
    return time.perf_counter() - t

  med, runs = median_runs(timed, repeats)
  metrics = jax.device_get(run_steps(1))
  steps_per_s = steps / med
  meta = jax_meta(dtype, b)
  u = mfu(flops, steps_per_s, meta['device_kind'], dtype, meta['matmul_precision'])
  mfu_s = f", MFU {u['mfu']:.1%}" if u.get('mfu') is not None else ''
  em.figure(**fields, **meta, image_shape=list(shape), params=n_params, steps_per_s=steps_per_s,
            images_per_s=steps_per_s * b, step_ms=1e3 * med / steps,
            runs_s=runs, steps_per_run=steps, repeats=repeats, warmup_steps=warmup,
            flops_per_step=flops, flops_per_step_unoptimised_hlo=flops_lowered,
            compile_s=compile_s, init_s=init_s, peak_memory_bytes=_memory(jax.devices()[0]),
            loss=float(metrics['loss']), nonfinite=float(metrics['nonfinite']),
            fast_compile=bool(args.tiny), **u,
            result=f'{steps_per_s * b:.4g} img/s ({1e3 * med / steps:.4g} ms/step, '
            f'{_fmt_flops(flops)}/step){mfu_s}')
  if u.get('note'):
    em.note(u['note'])


def section_ddpmpp_fp32(em, args):
  _ddpmpp_train(em, args, 'float32')


def section_ddpmpp_bf16(em, args):
  _ddpmpp_train(em, args, 'bfloat16')


def section_dit(em: Emitter, args):
  """SiT-B/2 bf16 train steps: XLA's attention, and cuDNN's fused attention on a GPU."""
  import jax
  impls = ('xla', 'cudnn') if jax.default_backend() == 'gpu' else ('xla',)
  for impl in impls:
    config, shape = _dit_config(args, impl)
    _train_step(em, args, config, shape, 'bfloat16', name=f'jaxgen SiT-B/2 train step, {impl} '
                'attention', model='SiT-B/2 (DiT-B/2 trained as a rectified flow)',
                experiment=f'{DIT_EXPERIMENT}:paper' + (' (tiny DiT)' if args.tiny else ''),
                attn_impl=impl)
  if 'cudnn' not in impls:
    em.note(f'cuDNN fused attention runs on GPUs only; not measured on '
            f'{jax.default_backend()}')


def _diffusers_args(args, dtype: str):
  tiny = args.tiny
  return argparse.Namespace(
      device='gpu' if args.torch_device == 'cuda' else 'cpu', dtype=dtype,
      nf=8 if tiny else 128, blocks=1 if tiny else 2, batch=args.batch or (4 if tiny else 128),
      size=16 if tiny else 32, steps=2 if tiny else 20, repeats=2 if tiny else 5,
      warmup=1 if tiny else 3, torch_threads=1 if tiny else 0)


def section_diffusers(em: Emitter, args):
  """diffusers' UNet2DModel training step, fp32 and bf16 autocast (runs without jax)."""
  try:
    import diffusers  # noqa: F401
    import torch
  except Exception as e:  # ImportError, or a broken install
    em.skip(f'torch / diffusers not importable in {sys.executable} ({type(e).__name__}: {e})')
    return
  from benchmarks import ddpmpp_vs_diffusers as dvd
  if args.torch_device == 'auto':
    args.torch_device = 'cuda' if torch.cuda.is_available() else 'cpu'
  dev_kind = torch.cuda.get_device_name(0) if args.torch_device == 'cuda' else (
      platform.processor() or platform.machine() or 'cpu')
  for dtype in ('float32', 'bfloat16'):
    a = _diffusers_args(args, dtype)
    print(f'  diffusers {dtype}: nf {a.nf}, batch {a.batch}, {a.size}x{a.size}', flush=True)
    r = dvd.run_torch(a)
    em.figure(name='diffusers UNet2DModel (DDPM CIFAR-10 layout) train step', **r,
              device_kind=dev_kind, platform=args.torch_device, jax=None, python=sys.executable,
              nf=a.nf, blocks_per_resolution=a.blocks, mfu=None,
              tf32_matmul=bool(torch.backends.cuda.matmul.allow_tf32),
              tf32_conv=bool(torch.backends.cudnn.allow_tf32),
              note='MFU: n/a (no XLA cost analysis on the torch side); compare images/s '
              'with ddpm_peer, the like-for-like jaxgen net',
              result=f"{r['images_per_s']:.4g} img/s ({1e3 / r['steps_per_s']:.4g} ms/step, "
              f"{r['params']:,} params)")


def section_ddpm_peer(em: Emitter, args):
  """jaxgen's DDPM-style U-Net at the diffusers section's sizes (ddpmpp_vs_diffusers.run_jax)."""
  import jax

  from benchmarks import ddpmpp_vs_diffusers as dvd
  from jaxgen.runtime import compile_options
  # --tiny: float32 only (the 4-resolution net compiles for minutes on a shared CPU)
  for dtype in ('float32',) if args.tiny else ('float32', 'bfloat16'):
    a = _diffusers_args(args, dtype)
    a.device = jax.default_backend()
    a.remat, a.blocks_ddpmpp = False, 0
    print(f'  jaxgen ddpm {dtype}: nf {a.nf}, batch {a.batch}, {a.size}x{a.size}', flush=True)
    with compile_options.fast_compile(args.tiny):
      r = dvd.run_jax(a, 'ddpm')
    meta = jax_meta(dtype, a.batch)
    r.pop('device', None)
    em.figure(name="jaxgen U-Net, DDPM layout (diffusers' like-for-like peer) train step",
              **{k: v for k, v in r.items() if k not in meta}, **meta, nf=a.nf,
              blocks_per_resolution=a.blocks, fast_compile=bool(args.tiny),
              result=f"{r['images_per_s']:.4g} img/s ({1e3 / r['steps_per_s']:.4g} ms/step, "
              f"{r['params']:,} params)")


def _capture_json(main: Callable, argv: list) -> dict:
  """Runs a benchmark script's ``main(argv)``, echoes its output, returns its JSON line."""
  buf = io.StringIO()
  with contextlib.redirect_stdout(buf):
    main(argv)
  text = buf.getvalue()
  for line in text.splitlines():
    print('  ' + line, flush=True)
  for line in text.splitlines():
    if line.startswith('{'):
      return json.loads(line)
  raise RuntimeError('the benchmark printed no JSON line')


def section_pixelcnn(em: Emitter, args):
  from benchmarks import pixelcnn_sampling
  argv = (['--batch', '2', '--size', '8', '--filters', '8', '--blocks', '1', '--repeats', '2']
          if args.tiny else ['--batch', '64', '--filters', '64', '--blocks', '7', '--repeats', '3'])
  r = _capture_json(pixelcnn_sampling.main, argv)
  meta = jax_meta('float32', r['batch'])
  em.figure(name='PixelCNN sampling, fast (cached) vs plain', **meta,
            **{k: v for k, v in r.items() if k not in meta}, script_argv=argv,
            result=f"fast {r['fast_s']:.3g} s vs plain {r['plain_s']:.3g} s: "
            f"{r['speedup']:.3g}x ({r['batch']} images of {r['shape'][0]}x{r['shape'][1]}, "
            f"identical: {r['identical_samples']})")


def section_nice(em: Emitter, args):
  from benchmarks import nice_throughput
  argv = (['--smoke', '--batch', '16', '--steps', '2', '--repeats', '2', '--eval-size', '200',
           '--eval-batch', '100', '--eval-repeats', '1'] if args.tiny else
          ['--batch', '200', '--steps', '20', '--repeats', '5', '--eval-repeats', '3'])
  r = _capture_json(nice_throughput.main, argv)
  meta = jax_meta('float32', r['batch'])
  em.figure(name='NICE (paper MNIST architecture) training' + (' (smoke model)' if args.tiny
                                                                 else ''),
            **meta, **{k: v for k, v in r.items() if k not in meta}, script_argv=argv,
            epoch_basis='60000 / (median examples/s of the jitted train step)',
            result=f"epoch of 60k {r['epoch_60k_s']:.3g} s ({r['examples_per_s']:.4g} examples/s, "
            f"{1e3 * r['step_s_median']:.3g} ms/step; {r['eval_size']}-image eval "
            f"{r['eval_s_median']:.3g} s)")


def section_likelihood(em: Emitter, args):
  """PF-ODE bits/dim on the DDPM++ U-Net: in-graph diffrax dopri5 vs host scipy RK45."""
  import functools

  import jax
  import jax.numpy as jnp
  import numpy as np
  import scipy.integrate

  from jaxgen.models import base as models_base
  from jaxgen.models import score_sde
  from jaxgen.ode import likelihood as lik
  from jaxgen.runtime import compile_options

  config, shape = _ddpmpp_config(args, 'float32')
  model = models_base.family_module(config.model.family).build(config, _spec(shape))
  sde = score_sde.make_sde(config.model)
  b = args.lik_batch or (4 if args.tiny else 32)
  tol = 1e-3 if args.tiny else 1e-5
  repeats = 2 if args.tiny else 3
  eps = float(config.likelihood.eps)
  x = jnp.asarray(_standin_x(shape, b))
  with compile_options.fast_compile():
    params = jax.jit(model.init)(jax.random.PRNGKey(0), x[:1])
  velocity = lambda t, y: model.velocity(params, t, y)
  key = jax.random.PRNGKey(42)
  probes = lik.make_probes(key, x, 1, 'rademacher')
  d = int(np.prod(shape))
  to_bpd = lambda lp: float(np.mean(-np.asarray(lp) / (d * math.log(2.0)) + math.log2(128.0)))
  opts = compile_options.ode_solve()
  jit = functools.partial(jax.jit, compiler_options=opts)

  solve = jit(lambda x: lik.ode_log_likelihood(
      velocity, x, sde.prior_logp, eps, sde.T, rng=key, method='hutchinson', num_probes=1,
      solver={'solver': 'dopri5', 'rtol': tol, 'atol': tol}))

  def jaxgen_run():
    lp, st = solve(x)
    return np.asarray(jax.block_until_ready(lp)), int(st['nfe'])

  def evaluation(t, xf):
    y = xf.reshape(x.shape)
    v, div = lik.divergence(velocity, t, y, method='hutchinson', probes=probes)
    return jnp.concatenate([v.reshape(-1), div])

  drift_div = jit(evaluation)
  init = np.concatenate([np.asarray(x, np.float64).reshape(-1), np.zeros(b)])

  def ode_func(t, state):
    return np.asarray(drift_div(jnp.float32(t), jnp.asarray(state[:b * d], jnp.float32)),
                      np.float64)

  def scipy_run():
    sol = scipy.integrate.solve_ivp(ode_func, (eps, sde.T), init, rtol=tol, atol=tol,
                                    method='RK45')
    zs = sol.y[:, -1]
    z = jnp.asarray(zs[:b * d].reshape(x.shape), jnp.float32)
    return np.asarray(sde.prior_logp(z)) + zs[b * d:], int(sol.nfev)

  runners = {'jaxgen dopri5 (in-graph diffrax)': jaxgen_run, 'scipy RK45 (host)': scipy_run}
  res = {}
  for name, fn in runners.items():
    t0 = time.perf_counter()
    with compile_options.fast_compile(args.tiny):   # the first call compiles
      lp, nfe = fn()
    res[name] = dict(first_call_s=time.perf_counter() - t0, runs_s=[], nfe=nfe, bpd=to_bpd(lp))
    print(f'  {name}: first call (compile) {res[name]["first_call_s"]:.1f} s, NFE {nfe}',
          flush=True)
  for _ in range(repeats):  # interleaved so that load changes hit both alike
    for name, fn in runners.items():
      t0 = time.perf_counter()
      lp, nfe = fn()
      res[name]['runs_s'].append(time.perf_counter() - t0)
      res[name].update(nfe=nfe, bpd=to_bpd(lp))
  base = statistics.median(res['scipy RK45 (host)']['runs_s'])
  meta = jax_meta('float32', b)
  for name, r in res.items():
    med = statistics.median(r['runs_s'])
    em.figure(name=f'PF-ODE likelihood, {name}', model='DDPM++ cont. (VP) U-Net, initialised '
              '(untrained) weights', **meta, image_shape=list(shape), rtol=tol, atol=tol,
              eps=eps, probes='1 Rademacher (Hutchinson)', median_s=med, ms_per_nfe=1e3 * med /
              max(r['nfe'], 1), speedup_vs_scipy=base / med, xla_options=opts or 'defaults',
              **r, result=f"{med:.3g} s, NFE {r['nfe']} ({1e3 * med / max(r['nfe'], 1):.3g} "
              f"ms/NFE), {base / med:.3g}x vs scipy; bits/dim {r['bpd']:.5g}")
  bpds = [r['bpd'] for r in res.values()]
  em.note(f'bits/dim agree to {abs(bpds[0] - bpds[1]):.2g} between the two methods; weights '
          'are the initialisation (output layer ~0, so the ODE is near-linear and NFE is far '
          'below a trained model\'s): compare ms per NFE; the data are CIFAR-10 stand-in '
          'images, not dequantized, so bits/dim is not a CIFAR-10 figure')


SECTIONS = collections.OrderedDict([
    # name: (function, accelerator time limit s, --tiny time limit s, title)
    ('env', (section_env, 90, 60, 'environment')),
    ('matmul', (section_matmul, 60, 60, 'matmul ceiling')),
    ('ddpmpp_fp32', (section_ddpmpp_fp32, 150, 240, 'DDPM++ cont. train step, fp32')),
    ('ddpmpp_bf16', (section_ddpmpp_bf16, 150, 240, 'DDPM++ cont. train step, bf16')),
    ('dit', (section_dit, 180, 240, 'SiT-B/2 train step, bf16, XLA vs cuDNN attention')),
    ('diffusers', (section_diffusers, 120, 120, 'diffusers UNet2DModel train step')),
    ('pixelcnn', (section_pixelcnn, 90, 120, 'PixelCNN sampling, fast vs plain')),
    ('nice', (section_nice, 90, 120, 'NICE epoch time')),
    ('likelihood', (section_likelihood, 180, 240, 'PF-ODE likelihood vs scipy RK45')),
    ('ddpm_peer', (section_ddpm_peer, 150, 240, "jaxgen DDPM-layout U-Net (diffusers' peer)")),
])
DEPENDS = {'ddpm_peer': 'diffusers'}   # run only when that section produced figures
MIN_START_S = 20   # a section is not started with less budget left than this


# ------------------------------------------------------------------------------ driver


def _child_env(args) -> dict:
  env = dict(os.environ)
  env['PYTHONPATH'] = REPO + (os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
  env['PYTHONUNBUFFERED'] = '1'
  return env


def _run_section(name: str, args, timeout: float, result_path: str) -> dict:
  """Runs one section in its own process; returns its record (status, figures, ...)."""
  python = args.torch_python if (name == 'diffusers' and args.torch_python) else sys.executable
  cmd = [python, os.path.abspath(__file__), '--section', name, '--result', result_path]
  if args.tiny:
    cmd.append('--tiny')
  if args.batch:
    cmd += ['--batch', str(args.batch)]
  if args.lik_batch:
    cmd += ['--lik-batch', str(args.lik_batch)]
  cmd += ['--torch-device', args.torch_device]
  if os.path.exists(result_path):
    os.remove(result_path)
  tail = collections.deque(maxlen=40)
  t0 = time.perf_counter()
  base = dict(name=name, title=SECTIONS[name][3], timeout_s=timeout,
              command=section_command(name, args), figures=[], notes=[])
  try:
    proc = subprocess.Popen(cmd, cwd=REPO, env=_child_env(args), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors='replace',
                            start_new_session=True)
  except OSError as e:  # e.g. a --torch-python that does not exist
    return dict(base, status='failed', wall_s=0.0, error=f'could not start {cmd[0]}: {e}')

  def pump():
    for line in proc.stdout:
      line = line.rstrip('\n')
      tail.append(line)
      print(f'  {name} | {line}', flush=True)

  reader = threading.Thread(target=pump, daemon=True)
  reader.start()
  timed_out = False
  try:
    rc = proc.wait(timeout=timeout)
  except subprocess.TimeoutExpired:
    timed_out = True
    _kill_group(proc)
    rc = proc.wait()
  reader.join(timeout=5)
  wall = time.perf_counter() - t0
  data = {'figures': [], 'notes': [], 'skipped': None}
  if os.path.exists(result_path):
    try:
      with open(result_path) as f:
        data = json.load(f)
    except (OSError, ValueError):
      pass
  rec = dict(base, wall_s=round(wall, 2), figures=data.get('figures', []),
             notes=data.get('notes', []), error=None)
  if timed_out:
    rec.update(status='timeout', error=f'no result within its {timeout:.0f} s limit (killed); '
               f'{len(rec["figures"])} figure(s) it had finished are kept')
  elif rc != 0:
    rec.update(status='failed', error=_error_line(list(tail), rc))
  elif data.get('skipped'):
    rec.update(status='skipped', error=data['skipped'])
  else:
    rec['status'] = 'ok'
  if rec['status'] in ('failed', 'timeout'):
    rec['output_tail'] = list(tail)[-20:]
  return rec


_ERROR_RE = re.compile(r'^\s*([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)|error)\b:?')


def _error_line(lines: list, rc: int) -> str:
  """The last 'SomeError: message' line of a section's output (else its last line)."""
  lines = [l for l in lines if l.strip()]
  for line in reversed(lines):
    if _ERROR_RE.match(line):
      return line.strip()[:500]
  return (lines[-1].strip() if lines else f'exit status {rc}')[:500]


def _kill_group(proc):
  """Ends the section's process group (the section and whatever it started), TERM then KILL."""
  for sig in (signal.SIGTERM, signal.SIGKILL):
    try:
      os.killpg(proc.pid, sig)
    except ProcessLookupError:
      return
    try:
      proc.wait(timeout=5)
      return
    except subprocess.TimeoutExpired:
      continue


def _utc() -> str:
  return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')


def _load() -> Optional[float]:
  try:
    return round(os.getloadavg()[0], 2)
  except OSError:
    return None


def suite_command(argv) -> str:
  """This run's command line (the shell script sets JAXGEN_SUITE_PREFIX to its own name)."""
  prefix = os.environ.get('JAXGEN_SUITE_PREFIX') or 'python -m benchmarks.accelerator_suite'
  env = 'JAX_PLATFORMS=' + os.environ['JAX_PLATFORMS'] + ' ' if os.environ.get(
      'JAX_PLATFORMS') else ''
  return env + ' '.join([prefix] + [shlex.quote(a) for a in argv])


def new_report(args, argv) -> dict:
  return dict(schema=SCHEMA, suite='jaxgen accelerator suite', command=suite_command(argv),
              tiny=bool(args.tiny), smoke_only=bool(args.tiny), started_utc=_utc(),
              finished_utc=None, wall_s=None, budget_s=args.budget,
              host=dict(hostname=socket.gethostname(), cpu_count=os.cpu_count(),
                        loadavg_1m_start=_load(), loadavg_1m_end=None,
                        jax_platforms=os.environ.get('JAX_PLATFORMS', '')),
              env=None, sections=[])


def _cell(v) -> str:
  return str(v).replace('|', '\\|').replace('\n', ' ')


def markdown(report: dict) -> str:
  """Markdown for BENCHMARKS.md: a heading line and one table row per figure or failed section."""
  env = report.get('env') or {}
  kind = env.get('device_kind', '?')
  lines = [f"Accelerator suite, {report['started_utc']}: `{report['command']}` on {kind} "
           f"({env.get('platform', '?')}), jax {env.get('jax', '?')}"
           f", wall {report.get('wall_s') or '?'} s of a {report['budget_s']:.0f} s budget.", '']
  if report.get('tiny'):
    lines += ['**--tiny smoke run: tiny shapes, XLA optimizations off — not performance '
              'figures.**', '']
  lines += ['| section | benchmark | device | dtype | batch | result | MFU | status |',
            '|---|---|---|---|---|---|---|---|']
  for sec in report['sections']:
    if sec['name'] == 'env' and sec['status'] == 'ok':
      continue
    for fig in sec['figures']:
      m = fig.get('mfu')
      if m is not None:
        mfu_s = f"{m:.1%} of {fig['peak_flops'] / 1e12:.4g} TFLOP/s ({fig['peak_basis']})"
      else:
        mfu_s = 'n/a'
      lines.append('| ' + ' | '.join(_cell(c) for c in (
          sec['name'], fig.get('name', ''), fig.get('device_kind', kind), fig.get('dtype', ''),
          fig.get('batch', ''), fig.get('result', ''), mfu_s, sec['status'])) + ' |')
    if sec['status'] != 'ok':
      lines.append('| ' + ' | '.join(_cell(c) for c in (
          sec['name'], sec['title'], kind, '', '', f"{sec['status'].upper()}: {sec['error']}",
          '', sec['status'])) + ' |')
  notes = [(s['name'], n) for s in report['sections'] for n in s.get('notes', [])]
  if notes:
    lines.append('')
    lines += [f'* {name}: {n}' for name, n in notes]
  return '\n'.join(lines) + '\n'


def write_report(report: dict, out_dir: str) -> tuple[str, str]:
  os.makedirs(out_dir, exist_ok=True)
  paths = (os.path.join(out_dir, 'accelerator_suite.json'),
           os.path.join(out_dir, 'accelerator_suite.md'))
  for path, text in zip(paths, (json.dumps(report, indent=1, default=_json_default) + '\n',
                                markdown(report))):
    with open(path + '.tmp', 'w') as f:
      f.write(text)
    os.replace(path + '.tmp', path)
  return paths


def run_suite(args, argv) -> dict:
  names = list(SECTIONS) if not args.sections else [s for s in args.sections.split(',') if s]
  unknown = [n for n in names if n not in SECTIONS]
  if unknown:
    raise SystemExit(f'error: unknown section(s) {", ".join(unknown)}; sections: '
                     f'{", ".join(SECTIONS)}')
  if 'env' not in names:
    names.insert(0, 'env')
  report = new_report(args, argv)
  out_dir = os.path.abspath(args.out)
  os.makedirs(out_dir, exist_ok=True)
  t_start = time.perf_counter()
  deadline = t_start + args.budget
  print(f'accelerator suite: {len(names)} sections, budget {args.budget:.0f} s, '
        f'{"tiny (CPU smoke) " if args.tiny else ""}output {out_dir}', flush=True)
  done = {}
  for i, name in enumerate(names, 1):
    fn, limit_acc, limit_tiny, title = SECTIONS[name]
    limit = args.timeouts.get(name, args.timeouts.get('*')) or (
        limit_tiny if args.tiny else limit_acc)
    left = deadline - time.perf_counter()
    dep = DEPENDS.get(name)
    print(f'[{i}/{len(names)}] {name}: {title} (limit {min(limit, max(left, 0)):.0f} s, '
          f'{left:.0f} s left in the budget)', flush=True)
    if dep and not (done.get(dep) and done[dep]['status'] == 'ok'):
      rec = dict(name=name, title=title, status='skipped', wall_s=0.0, timeout_s=0,
                 command=section_command(name, args), figures=[], notes=[],
                 error=f'needs section {dep!r} to have run (its like-for-like peer)')
    elif left < MIN_START_S:
      rec = dict(name=name, title=title, status='skipped', wall_s=0.0, timeout_s=0,
                 command=section_command(name, args), figures=[], notes=[],
                 error=f'suite budget spent ({left:.0f} s left of {args.budget:.0f} s)')
    else:
      rec = _run_section(name, args, min(limit, left),
                         os.path.join(out_dir, f'.section_{name}.json'))
      try:
        os.remove(os.path.join(out_dir, f'.section_{name}.json'))
      except OSError:
        pass
    done[name] = rec
    print(f'[{i}/{len(names)}] {name}: {rec["status"]} in {rec["wall_s"]:.1f} s'
          + (f' -- {rec["error"]}' if rec['error'] else ''), flush=True)
    if name == 'env' and rec['figures']:
      report['env'] = {k: v for k, v in rec['figures'][0].items() if k not in ('section',)}
    report['sections'].append(rec)
    report['wall_s'] = round(time.perf_counter() - t_start, 1)
    write_report(report, out_dir)
  report['finished_utc'] = _utc()
  report['host']['loadavg_1m_end'] = _load()
  report['wall_s'] = round(time.perf_counter() - t_start, 1)
  json_path, md_path = write_report(report, out_dir)
  print('\n' + markdown(report), flush=True)
  counts = collections.Counter(s['status'] for s in report['sections'])
  print(f'wrote {json_path} and {md_path}; sections: ' +
        ', '.join(f'{counts[s]} {s}' for s in STATUSES if counts[s]), flush=True)
  return report


def parse_args(argv):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument('--tiny', action='store_true',
                 help='tiny shapes (a CPU smoke run of every section; not performance figures)')
  p.add_argument('--out', default=os.path.join(REPO, 'benchmarks', 'results'),
                 help='folder for accelerator_suite.json and accelerator_suite.md')
  p.add_argument('--sections', default='', help=f'comma-separated subset of: {", ".join(SECTIONS)}')
  p.add_argument('--budget', type=float, default=None,
                 help='seconds for the whole suite (default 470; --tiny: 600)')
  p.add_argument('--timeout', default='',
                 help="per-section time limits: S (every section) or NAME=S,NAME=S (default: "
                 "each section's own, SECTIONS)")
  p.add_argument('--batch', type=int, default=0,
                 help='training batch of the U-Net and DiT sections (0: 128; --tiny: 4)')
  p.add_argument('--lik-batch', type=int, default=0, help='likelihood batch (0: 32; --tiny: 4)')
  p.add_argument('--torch-python', default='',
                 help='interpreter with torch + diffusers for the diffusers section (default: '
                 'this one)')
  p.add_argument('--torch-device', default='auto', choices=['auto', 'cuda', 'cpu'])
  p.add_argument('--section', default='', help=argparse.SUPPRESS)   # internal: run one section
  p.add_argument('--result', default='', help=argparse.SUPPRESS)
  args = p.parse_args(argv)
  if args.budget is None:
    args.budget = 600.0 if args.tiny else 470.0
  args.timeouts = parse_timeouts(args.timeout)
  return args


def parse_timeouts(text: str) -> dict:
  """'S' -> {'*': S}; 'a=S,b=T' -> {'a': S, 'b': T}."""
  out = {}
  for part in [p for p in (text or '').split(',') if p.strip()]:
    name, _, value = part.rpartition('=')
    name = name.strip() or '*'
    if name != '*' and name not in SECTIONS:
      raise SystemExit(f'error: --timeout names an unknown section {name!r}')
    try:
      out[name] = float(value)
    except ValueError:
      raise SystemExit(f'error: --timeout {part!r}: expected seconds') from None
  return out


def main(argv=None):
  argv = list(sys.argv[1:] if argv is None else argv)
  args = parse_args(argv)
  if args.section:
    if REPO not in sys.path:
      sys.path.insert(0, REPO)
    em = Emitter(args.result, args.section, args)
    SECTIONS[args.section][0](em, args)
    return
  run_suite(args, argv)


if __name__ == '__main__':
  main()
