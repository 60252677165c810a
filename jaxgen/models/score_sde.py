"""Score-based generative modelling through SDEs (Song et al., ICLR 2021): the family record.

Conventions
-----------
* Time (`jaxgen.diffusion.sde`): **t = 0 is data, t = T = 1 is noise**; ``x_t = alpha(t) x_0 + sigma(t) z``.
  SDEs: ``model.sde`` = 'vpsde' (beta_min, beta_max), 'subvpsde' (same betas), 'vesde'
  (sigma_min, sigma_max); ``model.num_scales`` = N of the discrete chains (DDPM / SMLD).
* Data scaling is the data section's job: the paper trains VP / sub-VP on [-1, 1]
  (``data.scale='symmetric'``) and VE on [0, 1] (``'unit'``, with the U-Net's ``center_input``).
  Samples and log-likelihoods are in that transformed space.
* Network: ``model.net`` = 'unet' (DDPM++ / NCSN++, `jaxgen.nets.unet`) or 'score_mlp' (vectors);
  its config is ``model.<net>``. Network output -> score follows `jaxgen.diffusion.score_losses`: VP /
  sub-VP label ``t * 999`` (discrete: the step index) and ``score = -out / sigma(t)``; VE label
  ``sigma(t)`` and ``score = out / sigma`` if ``model.scale_by_sigma`` (or, for the U-Net,
  ``model.unet.scale_by_sigma``, which the NCSN++ presets set). VP ignores it.
* Loss (`jaxgen.diffusion.score_losses`): ``model.continuous`` -> DSM with ``t ~ U(loss.eps, 1)``, optional
  ``loss.likelihood_weighting``; else DDPM (VP) or SMLD (VE). ``loss.reduce_mean``: mean over
  dimensions, else 0.5 * sum (the reference's default).
* Sampling (``sampling.method``): 'pc' (`jaxgen.diffusion.pc`: predictor, corrector, snr,
  n_steps_each, steps, denoise, probability_flow), 'ode' (probability-flow ODE with any
  `jaxgen.ode.solvers` solver from T to eps, the keys of ``solvers.defaults()``; 'dopri5' at
  rtol = atol = 1e-5 is the paper's RK45 row), 'ddim' (``ddim_eta``), 'dpm_solver'
  (``dpm_order`` 1-3 singlestep, or 0 for DPM-Solver++(2M); log-SNR-uniform grid), 'edm' (Heun on
  EDM's rho grid). ``steps`` is the number of steps of each method (0 -> ``num_scales``);
  ``eps < 0`` means the paper's end time: 1e-3 for VP / sub-VP, 1e-5 for VE. ``denoise`` ends 'pc'
  and 'ode' with a Tweedie step at eps (+1 NFE).
* ``log_prob(params, batch, rng)`` (the log-density of ``batch['x']``) integrates the probability-flow ODE from ``sampling.likelihood_eps`` (1e-5, as the
  reference) to T with ``sampling.likelihood_solver`` (dopri5, rtol/atol from sampling) and the
  exact divergence (``likelihood_probes = 0``) or Hutchinson with that many Rademacher probes;
  nats in the transformed data space (`jaxgen.metrics.bpd` turns it into bits/dim).
* ``velocity(params, t, x)`` is the PF-ODE ``dx/dt`` in forward time; ``t_span = (T, eps)``.
* ``extras``: 'score' ``(params, x, t) -> score``; 'inpaint' ``(params, rng, x, mask, sampling)``;
  'colorize' ``(params, rng, gray, sampling)`` (PC sampler with replacement,
  `jaxgen.diffusion.controllable`); 'denoise' ``(params, x, t)`` (Tweedie).
"""

from __future__ import annotations


import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.ode import grids
from jaxgen.diffusion import score_losses as sl
from jaxgen.diffusion import sde as sde_lib
from jaxgen.ode import solvers
from jaxgen.models.base import Model, batch_x
from jaxgen.nets import score_mlp, unet
from jaxgen.diffusion import controllable
from jaxgen.diffusion import pc

NETS = {'unet': unet, 'score_mlp': score_mlp}
METHODS = ('pc', 'ode', 'ddim', 'dpm_solver', 'edm')


def defaults() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.model = ml_collections.ConfigDict(dict(
      sde='vpsde',              # 'vpsde' | 'subvpsde' | 'vesde'
      beta_min=0.1,             # VP / sub-VP
      beta_max=20.0,
      sigma_min=0.01,           # VE
      sigma_max=50.0,
      num_scales=1000,          # N of the discrete chains; default number of PC steps
      continuous=True,          # continuous-time DSM (else DDPM for VP / SMLD for VE)
      scale_by_sigma=False,     # VE: score = output / sigma (NCSN++ cont.: True)
      net='unet',               # 'unet' | 'score_mlp'
      unet=unet.defaults(),
      score_mlp=score_mlp.defaults(),
  ))
  c.loss = ml_collections.ConfigDict(dict(
      eps=1e-5,                 # t ~ U(eps, T)
      reduce_mean=False,        # mean over dimensions (True) or 0.5 * sum (False)
      likelihood_weighting=False,
  ))
  c.sampling = solvers.defaults()
  c.sampling.update(dict(
      num_samples=64,
      method='pc',              # 'pc' | 'ode' | 'ddim' | 'dpm_solver' | 'edm'
      predictor='reverse_diffusion',  # pc: 'euler_maruyama' | 'reverse_diffusion' | 'ancestral' | 'none'
      corrector='langevin',     # pc: 'langevin' | 'annealed_langevin' | 'none'
      snr=0.16,
      n_steps_each=1,
      probability_flow=False,   # pc predictors follow the PF-ODE
      denoise=True,             # final Tweedie step at eps (pc, ode)
      eps=-1.0,                 # end time; < 0: 1e-3 for VP / sub-VP, 1e-5 for VE
      ddim_eta=0.0,
      dpm_order=3,              # 1, 2, 3: singlestep DPM-Solver-k; 0: DPM-Solver++(2M)
      edm_churn=0.0,
      likelihood_eps=1e-5,      # log_prob: PF-ODE from this time to T
      likelihood_solver='dopri5',
      likelihood_probes=0,      # 0: exact divergence; k: Hutchinson with k Rademacher probes
  ))
  c.sampling.steps = 1000
  return c


def choices() -> dict:
  return {
      'model.sde': ('vpsde', 'subvpsde', 'vesde'),
      'model.net': tuple(NETS),
      'sampling.method': METHODS,
      'sampling.predictor': pc.PREDICTORS,
      'sampling.corrector': pc.CORRECTORS,
      'sampling.dpm_order': (0, 1, 2, 3),
  }


def make_sde(model_config):
  """The `jaxgen.diffusion.sde` instance of ``config.model``."""
  mc = model_config
  if mc.sde == 'vesde':
    return sde_lib.VESDE(sigma_min=mc.sigma_min, sigma_max=mc.sigma_max, N=mc.num_scales)
  cls = sde_lib.SubVPSDE if mc.sde == 'subvpsde' else sde_lib.VPSDE
  return cls(beta_min=mc.beta_min, beta_max=mc.beta_max, N=mc.num_scales)


def build(config, spec) -> Model:
  mc, lc = config.model, config.loss
  sde = make_sde(mc)
  net = NETS[mc.net].build(mc[mc.net])

  def net_fn(params, x, labels, train, rng):
    rngs = {'dropout': rng} if (train and rng is not None) else None
    return net.apply({'params': params}, x, labels, train=train, rngs=rngs)

  # VE: divide by sigma if the family flag or the U-Net preset's (informational) flag asks for it.
  by_sigma = bool(mc.scale_by_sigma or (mc.net == 'unet' and mc.unet.scale_by_sigma))
  score_p = sl.make_score_fn(sde, net_fn, continuous=mc.continuous, scale_by_sigma=by_sigma)
  loss_impl = sl.get_loss(sde, continuous=mc.continuous, reduce_mean=lc.reduce_mean,
                          likelihood_weighting=lc.likelihood_weighting, eps=lc.eps)

  def init(rng, x):
    # label 1.0: a valid time label and a positive sigma (Fourier embedding takes its log).
    return net.init({'params': rng, 'dropout': rng}, x, jnp.ones(x.shape[:1]))['params']

  def loss(params, batch, rng, train=True):
    value, per = loss_impl(score_p, params, batch['x'], rng, train=train)
    return value, {'loss_std': jnp.std(per)}

  def score(params, x, t):
    return score_p(params, x, t)

  def velocity(params, t, x):
    return sde.pf_ode(lambda y, s: score_p(params, y, s))(t, x)

  def end_time(sampling):
    return float(sde.eps if sampling.eps < 0 else sampling.eps)

  def pc_kwargs(sampling):
    return dict(predictor=sampling.predictor, corrector=sampling.corrector, snr=sampling.snr,
                n_steps_each=sampling.n_steps_each, steps=sampling.steps or sde.N,
                eps=end_time(sampling), denoise=sampling.denoise,
                probability_flow=sampling.probability_flow)

  def sample(params, rng, n, sampling):
    shape = (n,) + tuple(spec.shape)
    s_fn = lambda x, t: score_p(params, x, t)
    eps = end_time(sampling)
    steps = int(sampling.steps or sde.N)
    method = sampling.method
    if method == 'pc':
      return pc.pc_sample(sde, s_fn, rng, shape, **pc_kwargs(sampling))
    r0, r1 = jax.random.split(rng)
    x_T = sde.prior_sample(r0, shape)
    if method == 'ode':
      x, stats = solvers.integrate(lambda t, x: velocity(params, t, x), x_T, sde.T, eps,
                                   sampling, schedule=sde)
      nfe = stats['nfe']
      if sampling.denoise:
        x, nfe = pc.denoise_step(sde, s_fn, x, eps), nfe + 1
      return x, {'nfe': nfe}
    if method == 'ddim':
      from jaxgen.diffusion import ddim
      ts = grids.make(sampling.grid, sde.T, eps, steps, rho=sampling.rho,
                      shift_a=sampling.shift, schedule=sde)
      return ddim.ddim(sde.noise_from_score(s_fn), x_T, ts, sde, eta=sampling.ddim_eta, rng=r1)
    if method == 'dpm_solver':
      from jaxgen.diffusion import dpm_solver
      ts = grids.make('log_snr', sde.T, eps, steps, schedule=sde)
      eps_fn = sde.noise_from_score(s_fn)
      if sampling.dpm_order == 0:
        return dpm_solver.dpm_solver_pp_2m(eps_fn, x_T, ts, sde)
      return dpm_solver.dpm_solver(eps_fn, x_T, ts, sde, order=sampling.dpm_order)
    if method == 'edm':
      from jaxgen.diffusion import edm
      return edm.sample_sde(sde, s_fn, rng, shape, steps, rho=sampling.rho,
                            S_churn=sampling.edm_churn)
    raise ValueError(f'sampling.method={method!r}; choose one of {METHODS}')

  def log_prob(params, batch, rng):
    from jaxgen.ode import likelihood

    x = batch_x(batch)
    s = config.sampling
    solver = solvers.defaults()
    solver.solver = s.likelihood_solver
    solver.rtol, solver.atol, solver.steps = s.rtol, s.atol, s.steps
    solver.max_steps = s.max_steps
    probes = int(s.likelihood_probes)
    logp, _ = likelihood.ode_log_likelihood(
        lambda t, y: velocity(params, t, y), x, sde.prior_logp, s.likelihood_eps, sde.T,
        rng=rng, method='hutchinson' if probes else 'exact', num_probes=max(probes, 1),
        solver=solver)
    return logp

  def inpaint(params, rng, x, mask, sampling):
    return controllable.inpaint(sde, lambda y, t: score_p(params, y, t), rng, x, mask,
                                **pc_kwargs(sampling))

  def colorize(params, rng, gray, sampling):
    return controllable.colorize(sde, lambda y, t: score_p(params, y, t), rng, gray,
                                 **pc_kwargs(sampling))

  def denoise(params, x, t):
    return pc.denoise_step(sde, lambda y, s: score_p(params, y, s), x, t)

  return Model(init=init, loss=loss, sample=sample, log_prob=log_prob, discrete=False,
               velocity=velocity, t_span=(sde.T, float(sde.eps)),
               extras=dict(score=score, inpaint=inpaint, colorize=colorize, denoise=denoise))
