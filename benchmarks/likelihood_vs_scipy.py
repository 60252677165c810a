"""PF-ODE likelihood: jaxgen's in-graph diffrax solve vs score_sde's host-side scipy RK45.

    JAX_PLATFORMS=cpu .venv/bin/python -m benchmarks.likelihood_vs_scipy [--hidden 64,128,256]
        [--batch 64] [--repeats 5] [--xla_defaults 0]

Model: a VP SDE (beta 0.1..20) with a small noise-prediction MLP (64 -> H -> H -> 64, swish,
H = each width of ``--hidden``; sinusoidal time embedding of 999 t), trained briefly
(``--train_steps``, default 400, Adam 1e-3, continuous DSM with t ~ U(1e-5, 1)) on scikit-learn's 8x8 digits (17 levels), uniformly
dequantized and scaled to [-1, 1] (x = 2 (k + u) / 17 - 1), shape [b, 8, 8, 1].

Both methods integrate the same augmented ODE [x, logp] of the probability-flow ODE from eps = 1e-5
to T = 1 at rtol = atol = 1e-5 on the same batch with the same fixed Rademacher probe
(Hutchinson-Skilling, one probe per example, as score_sde does):

* jaxgen: `jaxgen.ode.likelihood.ode_log_likelihood` (diffrax Dopri5 / Tsit5, one step size for the
  batch, drift and divergence from one jvp), the whole solve one jitted call.
* scipy (score_sde's method): `scipy.integrate.solve_ivp(RK45)` on the host over the flattened
  batch; each evaluation transfers the state to the device, runs ONE jitted drift + divergence
  function (score_sde computes the drift twice; we give the baseline the single pass) and copies
  the result back. ``--two_pass 1`` also times score_sde's literal evaluation (a drift call plus a
  divergence call that recomputes the drift inside its vjp).

Every jitted function on every side is compiled with the same XLA options:
`jaxgen.runtime.compile_options.ode_solve()` (on CPU: YNNPACK restricted to individual matmuls, see that
module), or XLA's defaults with ``--xla_defaults 1``.

Reports median wall time (and process CPU time, less sensitive to other processes on a shared
machine) over ``--repeats`` runs (after one warm-up run that compiles; the methods
are interleaved run by run so that load on a shared machine hits them alike), the NFE
of each (jaxgen: `stats['nfe']`; scipy: `sol.nfev`), bits/dim of each (offset log2(17 / 2) for 17
levels on [-1, 1]) and the speed ratio. bits/dim should agree to ~0.01 (both are 1e-5-accurate
solutions of the same ODE).
"""

from __future__ import annotations

import argparse
import functools
import math
import platform
import statistics
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.integrate

from jaxgen.runtime import compile_options
from jaxgen.ode import likelihood as lik
from jaxgen.diffusion import sde as sde_lib

LEVELS = 17
EPS_LIK = 1e-5


class NoiseMLP(nn.Module):
  """eps_theta(x, t): flatten, concat a sinusoidal embedding of 999 t, 2 hidden swish layers."""
  hidden: int = 256

  @nn.compact
  def __call__(self, x, t):
    b = x.shape[0]
    h = x.reshape(b, -1)
    freqs = jnp.exp(-math.log(10000.0) * jnp.arange(16) / 16)
    ang = 999.0 * t[:, None] * freqs[None]
    emb = jnp.concatenate([jnp.sin(ang), jnp.cos(ang)], -1)
    h = jnp.concatenate([h, emb], -1)
    h = nn.swish(nn.Dense(self.hidden)(h))
    h = nn.swish(nn.Dense(self.hidden)(h))
    return nn.Dense(x[0].size)(h).reshape(x.shape)


def load_digits(rng: np.random.Generator):
  from sklearn.datasets import load_digits as _ld
  k = _ld().images.astype(np.float32)  # [1797, 8, 8], 0..16
  u = rng.uniform(size=k.shape).astype(np.float32)
  return (2.0 * (k + u) / LEVELS - 1.0)[..., None]


def train(net, sde, data, steps: int, seed: int = 0):
  params = net.init(jax.random.PRNGKey(seed), jnp.asarray(data[:2]), jnp.ones((2,)))
  tx = optax.adam(1e-3)
  opt = tx.init(params)

  @jax.jit
  def step(params, opt, x, key):
    kt, kz = jax.random.split(key)
    t = jax.random.uniform(kt, (x.shape[0],), minval=1e-5, maxval=1.0)
    z = jax.random.normal(kz, x.shape)
    mean, std = sde.marginal_prob(x, t)
    xt = mean + std[:, None, None, None] * z

    def loss_fn(p):
      return jnp.mean((net.apply(p, xt, t) - z)**2)

    loss, g = jax.value_and_grad(loss_fn)(params)
    upd, opt = tx.update(g, opt)
    return optax.apply_updates(params, upd), opt, loss

  rng = np.random.default_rng(seed)
  key = jax.random.PRNGKey(seed + 1)
  loss = float('nan')
  for i in range(steps):
    idx = rng.integers(0, len(data), 128)
    key, sk = jax.random.split(key)
    params, opt, loss = step(params, opt, jnp.asarray(data[idx]), sk)
  return params, float(loss)


def compare(args, hidden: int, data, opts: dict) -> dict:
  """Trains the width-``hidden`` MLP, then times every method; returns {method: result}."""
  sde = sde_lib.VPSDE()
  net = NoiseMLP(hidden=hidden)
  t0 = time.time()
  params, loss = train(net, sde, data, args.train_steps)
  print(f'width {hidden}: trained {args.train_steps} steps in {time.time() - t0:.1f}s, '
        f'final DSM loss {loss:.4f}', flush=True)

  x = jnp.asarray(data[-args.batch:])
  b = x.shape[0]
  d = int(np.prod(x.shape[1:]))
  offset = math.log2(LEVELS / 2.0)
  score = sde.score_from_noise(lambda t, y: net.apply(params, y, t))
  velocity = sde.pf_ode(score)
  probe_key = jax.random.PRNGKey(42)
  probes = lik.make_probes(probe_key, x, 1, 'rademacher')
  to_bpd = lambda lp: float(np.mean(-np.asarray(lp) / (d * math.log(2.0)) + offset))
  jit = functools.partial(jax.jit, compiler_options=opts)  # the same XLA options for every side

  runners = {}
  # --- jaxgen: in-graph diffrax ---------------------------------------------------------------
  for solver in ('dopri5', 'tsit5'):
    cfg = {'solver': solver, 'rtol': args.tol, 'atol': args.tol}
    fn = jit(lambda x, cfg=cfg: lik.ode_log_likelihood(
        velocity, x, sde.prior_logp, EPS_LIK, sde.T, rng=probe_key, method='hutchinson',
        num_probes=1, solver=cfg))

    def jaxgen_run(fn=fn):
      lp, st = fn(x)
      lp = jax.block_until_ready(lp)
      return np.asarray(lp), int(st['nfe'])

    runners[f'jaxgen {solver}'] = jaxgen_run

  # --- score_sde's method: scipy RK45 on the host ---------------------------------------------
  def evaluation(t, xf):
    y = xf.reshape(x.shape)
    v, div = lik.divergence(velocity, t, y, method='hutchinson', probes=probes)
    return jnp.concatenate([v.reshape(-1), div])

  drift_div = jit(evaluation)

  def ode_func(t, state):
    out = drift_div(jnp.float32(t), jnp.asarray(state[:b * d], jnp.float32))
    return np.asarray(out, np.float64)

  init = np.concatenate([np.asarray(x).reshape(-1), np.zeros(b)])

  def scipy_run():
    sol = scipy.integrate.solve_ivp(ode_func, (EPS_LIK, sde.T), init, rtol=args.tol,
                                    atol=args.tol, method='RK45')
    zs = sol.y[:, -1]
    z = jnp.asarray(zs[:b * d].reshape(x.shape), jnp.float32)
    lp = np.asarray(sde.prior_logp(z)) + zs[b * d:]
    return lp, int(sol.nfev)

  runners['scipy RK45 (host)'] = scipy_run

  # score_sde's own evaluation: the drift and the divergence as two jitted functions, the drift
  # computed twice per evaluation (once on its own, once inside the divergence's vjp).
  drift_only = jit(lambda t, xf: velocity(t, xf.reshape(x.shape)).reshape(-1))

  @jit
  def div_only(t, xf):
    y = xf.reshape(x.shape)
    _, vjp = jax.vjp(lambda z: velocity(t, z), y)
    return jnp.sum((vjp(probes[0])[0] * probes[0]).reshape(b, -1), -1)

  def ode_func2(t, state):
    xf = jnp.asarray(state[:b * d], jnp.float32)
    tt = jnp.float32(t)
    return np.concatenate([np.asarray(drift_only(tt, xf), np.float64),
                           np.asarray(div_only(tt, xf), np.float64)])

  def scipy_two_pass_run():
    sol = scipy.integrate.solve_ivp(ode_func2, (EPS_LIK, sde.T), init, rtol=args.tol,
                                    atol=args.tol, method='RK45')
    zs = sol.y[:, -1]
    z = jnp.asarray(zs[:b * d].reshape(x.shape), jnp.float32)
    return np.asarray(sde.prior_logp(z)) + zs[b * d:], int(sol.nfev)

  if args.two_pass:
    runners['scipy RK45, score_sde two-pass'] = scipy_two_pass_run

  # The compute floor: the same drift + divergence evaluated NFE times in a bare jitted loop (no
  # solver), NFE = jaxgen dopri5's. No method that evaluates the network that often can be faster.
  floor = {}

  def floor_run():
    if not floor:  # after jaxgen dopri5's warm-up (runners warm up in order)
      n = floor['nfe'] = int(runners['jaxgen dopri5']()[1])

      @jit
      def bare_loop(xf):
        def body(i, c):
          out = evaluation(EPS_LIK + i * (1.0 / n), c[:b * d])
          return c + 1e-9 * out  # each output feeds the next call: nothing hoisted or dropped
        return jax.lax.fori_loop(0, n, body, jnp.concatenate([xf, jnp.zeros(b)]))

      floor['loop'] = bare_loop
    jax.block_until_ready(floor['loop'](x.reshape(-1)))
    return np.full(b, np.nan), floor['nfe']

  runners['compute floor (bare jitted loop, jaxgen dopri5 NFE)'] = floor_run

  # Warm-up (compiles), then interleave the methods so that load changes on a shared machine hit
  # them alike; report the median per method.
  results = {}
  for name, fn in runners.items():
    tc = time.time()
    fn()
    results[name] = dict(compile=time.time() - tc, times=[], cpu=[])
  for _ in range(args.repeats):
    for name, fn in runners.items():
      tt, tc = time.time(), time.process_time()
      lp, nfe = fn()
      results[name]['times'].append(time.time() - tt)
      results[name]['cpu'].append(time.process_time() - tc)
      results[name].update(nfe=nfe, bpd=to_bpd(lp) if np.isfinite(lp).all() else float('nan'))
  for r in results.values():
    r['time'] = statistics.median(r['times'])
    r['cpu_time'] = statistics.median(r['cpu'])

  return results


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument('--batch', type=int, default=64)
  ap.add_argument('--repeats', type=int, default=5)
  ap.add_argument('--train_steps', type=int, default=400)
  ap.add_argument('--hidden', default='64,128,256',
                  help='MLP widths (2 hidden layers), comma-separated: one table row group each')
  ap.add_argument('--tol', type=float, default=1e-5)
  ap.add_argument('--two_pass', type=int, default=1,
                  help="also time score_sde's literal two-pass drift + divergence evaluation")
  ap.add_argument('--xla_defaults', type=int, default=0,
                  help='1: compile every side with XLA defaults instead of '
                  'jaxgen.runtime.compile_options.ode_solve()')
  args = ap.parse_args()

  opts = {} if args.xla_defaults else compile_options.ode_solve()
  data = load_digits(np.random.default_rng(0))
  tables = {h: compare(args, int(h), data, opts) for h in args.hidden.split(',')}

  print(f'\nbatch {args.batch} x (8, 8, 1) (D=64), rtol=atol={args.tol}, median of '
        f'{args.repeats}, {jax.devices()[0].platform}, '
        f'{platform.processor() or platform.machine()}, XLA options (all sides): {opts or "defaults"}')
  print('| MLP width | method | median wall (s) | all wall times (s) | median CPU (s) | NFE | '
        'bits/dim | wall speed-up vs scipy | CPU speed-up | first call (s) |')
  print('|---|---|---|---|---|---|---|---|---|---|')
  for h, results in tables.items():
    base = results['scipy RK45 (host)']
    for name, r in results.items():
      bpd = '-' if math.isnan(r['bpd']) else f"{r['bpd']:.4f}"
      all_t = ' '.join(f'{v:.3f}' for v in r['times'])
      print(f"| {h} | {name} | {r['time']:.3f} | {all_t} | {r['cpu_time']:.3f} | {r['nfe']} | "
            f"{bpd} | {base['time'] / r['time']:.1f}x | "
            f"{base['cpu_time'] / r['cpu_time']:.1f}x | {r['compile']:.2f} |")


if __name__ == '__main__':
  main()
