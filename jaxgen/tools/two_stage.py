"""Two-stage sampling of a VQ-VAE with a prior over its codes (van den Oord et al. 2017, Sec. 3.3).

The prior is a plain run of any sampling family (a PixelCNN) trained on ``codes:<folder>`` data
(`jaxgen.data.codes`); the folder's index names the VQ-VAE run and the checkpoint step that
encoded it, so the pair is found from the prior alone (``vqvae`` overrides the run; its newest
checkpoint is then used). A draw is one jit-compiled function of (prior params, VQ-VAE params,
key): the prior's sampler draws code grids (the PixelCNN's cached ``sampling.method='fast'``),
rounded to integers 0..K-1, and the VQ-VAE's ``decode`` maps them to images in the space of the
VQ-VAE's ``batch['x']``; ``info`` holds the prior's ``nfe`` (and ``label`` for a conditional
prior) and the ``codes``. Neither family knows the other: the pair is made here, so training,
``launch.evaluate`` (the prior's ``bpd``: bits per code) and ``launch.sample`` (code grids) stay
single-run commands.

Refused with one line naming the fix: a prior not trained on codes, an unfinished codes folder, a
VQ-VAE run of another family, or one whose codebook size K or code grid differs from the prior's
data, a VQ-VAE checkpoint that is gone.

`evaluate`: the prior's test NLL in bits per code (its ``bpd`` over the codes' test split), the
two-stage bound in bits/dim, ``(-log2 p(x | z_q(x)) - log2 P_prior(z_q(x))) / D``, over the
test images (the VQ-VAE's decoder term and the prior's term on the same examples), and the
sample metrics of `jaxgen.runtime.evaluators.classifier_features` (FD, IS, ...) of decoded samples
against the VQ-VAE's evaluation split, in the pinned classifier's features.
"""

from __future__ import annotations

import copy
import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.data import codes as codes_lib
from jaxgen.runtime import evaluate as evaluate_lib
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import samples as samples_lib
from jaxgen.runtime import workdir as workdir_lib
from jaxgen.runtime.cli import Failure
from jaxgen.runtime.evaluators import classifier_features


@dataclasses.dataclass
class TwoStage:
  """An opened pair: the prior run, the VQ-VAE run, the codes index and `draw`: ``(prior params,
  rng, n, settings) -> (images, info)`` on the host, the VQ-VAE's parameters bound."""

  prior: object
  vqvae: object
  index: dict
  draw: object


def open_pair(prior, workdir: str, vqvae: str = '') -> TwoStage:
  """The pair of the prior run `prior` (opened from `workdir`) and its VQ-VAE (module doc)."""
  folder = codes_lib.source_of(prior.config.data.name)
  if folder is None:
    raise Failure(f'--workdir={workdir} trains on data.name={prior.config.data.name!r}, not on '
                  'codes:<folder>: give the workdir of a prior trained on VQ-VAE codes')
  if prior.model.sample is None:
    raise Failure(f'--workdir={workdir} is a {prior.config.model.family} run: it has no sampler')
  index = codes_lib.read_index(folder)
  plan = index['plan']
  source, step = (vqvae, None) if vqvae else (plan['source_workdir'], int(plan['source_step']))
  family = workdir_lib.read_config(source).model.family
  if family != 'vqvae':
    raise Failure(f'--vqvae={source} is a {family} run; give the VQ-VAE run whose codes the '
                  'prior models')
  if step is not None and step not in workdir_lib.checkpoint_steps(source):
    raise Failure(f'{folder} was encoded at step {step} of {source}, whose checkpoints now are '
                  f'{workdir_lib.checkpoint_steps(source)}: pass --vqvae {source} to decode with '
                  'its newest (other codes than the prior saw), or re-encode and retrain the prior')
  vq = run_lib.open_run(source, step=step)
  k, grid = int(vq.model.extras['num_codes']()), tuple(vq.model.extras['grid']())
  spec = prior.data.spec
  if spec.num_levels != k or tuple(spec.shape) != (*grid, 1):
    raise Failure(f'the prior models {spec.num_levels} codes on a {spec.shape[0]}x{spec.shape[1]}'
                  f' grid, the VQ-VAE {source} has K = {k} codes on a {grid[0]}x{grid[1]} grid: '
                  'give the VQ-VAE that made the prior\'s codes (--vqvae), or train a prior on '
                  'its codes')
  decode, sample = vq.model.extras['decode'], prior.model.sample

  def two_stage(params, rng, n, settings):
    x, info = sample(params['prior'], rng, n, settings)
    codes = jnp.clip(jnp.round(x[..., 0]), 0, k - 1).astype(jnp.int32)
    return decode(params['vqvae'], codes), dict(info, codes=codes)

  draw = samples_lib.sampler(dataclasses.replace(prior.model, sample=two_stage), prior.mesh)

  def bound(params, rng, n, settings):
    return draw({'prior': params, 'vqvae': vq.params}, rng, n, settings)

  return TwoStage(prior, vq, index, bound)


def write_samples(pair: TwoStage, workdir: str, name: str = '') -> str:
  """samples/<name>.png and .npz of the prior run (default ``two_stage_<step>_<sampler>``):
  ``sampling.num_samples`` decoded images (`jaxgen.runtime.samples.write`, with the VQ-VAE's data
  for the picture), the .npz with their ``codes``; returns the PNG path."""
  prior = pair.prior
  view = copy.copy(prior)
  view.data = pair.vqvae.data
  settings = prior.model.sampling_settings(prior.config.sampling)
  name = name or f'two_stage_{prior.step}_{prior.model.sampling_label(settings)}'
  return samples_lib.write(view, workdir, prior.step, name=name, draw=pair.draw,
                           settings=settings)


def evaluate(pair: TwoStage, metrics: tuple, num_samples: int) -> dict:
  """``eval/prior_bits_per_code``, ``eval/two_stage_bpd``, ``eval/uniform_prior_bpd`` (module
  doc), the codes' test-split ``eval/recon_mse``, ``eval/usage`` and ``eval/perplexity`` (from
  their index), and ``eval/<metric>`` of `metrics` (names of `classifier_features`: fd, is, kid,
  ...) on `num_samples` decoded samples drawn with the prior run's evaluation key, with their
  ``measured`` and ``evaluators``."""
  prior, vq = pair.prior, pair.vqvae
  spec = vq.data.spec
  # Both over their whole test split: the same images (the codes' test split is the VQ-VAE's).
  codes_bits = evaluate_lib.Evaluator(prior, metrics=('bpd',), data=prior.data)(
      prior.params, prior.eval_rng())
  image_bits = evaluate_lib.Evaluator(vq, metrics=('bpd',), data=vq.data)(vq.params,
                                                                         vq.eval_rng())
  plan = pair.index['plan']
  grid = plan['grid'][0] * plan['grid'][1]
  uniform = grid * math.log2(plan['num_codes']) / spec.dim
  per_code = codes_bits['eval/bpd']
  test = pair.index['splits']['test']
  out = {'eval/prior_bits_per_code': per_code, 'eval/uniform_prior_bpd': image_bits['eval/bpd'],
         'eval/two_stage_bpd': image_bits['eval/bpd'] - uniform + per_code * grid / spec.dim,
         **{f'eval/{k}': test[k] for k in ('recon_mse', 'usage', 'perplexity')}}
  if metrics:
    settings = prior.model.sampling_settings(prior.config.sampling)
    ev = classifier_features.Evaluator(
        tuple(metrics), lambda p, r, n: pair.draw(p, r, n, settings), vq.data.eval_array, spec,
        num_samples, vq.data.eval_source()['data']['name'])
    out.update(ev.run(prior.params, prior.eval_rng()))
    out['measured'] = ev.measured()
    out['evaluators'] = ev.identity()
  return {k: (float(v) if isinstance(v, (float, np.floating, jax.Array)) else v)
          for k, v in out.items()}
