"""Classifier-guided sampling of a score-SDE run with a classifier run (Song et al. 2021, Sec. 5).

    from jaxgen.runtime import run as run_lib, samples
    from jaxgen.tools import classifier_run as guidance
    run = run_lib.open_run('runs/sde_digits', {'sampling.classifier': 'runs/clf_digits',
                                               'sampling.label': '3'})
    name = samples.default_name(run, 'runs/sde_digits')  # sample_<step>_<sampler>_clf3_s1
    path = samples.write(run, 'runs/sde_digits', run.step, name=name, draw=guidance.draw_for(run))

The score run's sampler draws with ``score(t, x) + scale * grad_x log p_t(label | x)``
(`jaxgen.diffusion.classifier_guidance`), any ``sampling.method``. The sampling keys (on the
score-SDE side; read with these defaults where the section lacks them):

  classifier        a classifier run's workdir ('' = no guidance)
  classifier_scale  s (1: the conditional law p(x | y) for an exact classifier; 0: unguided)
  label             the class k of every sample, or -1: the classes in turn, one row of the
                    picture per class (`jaxgen.diffusion.classifier_free.sample_labels`)

The classifier run (family 'classifier') is opened from its config.json and its newest good
checkpoint (`run.open_run`; its EMA parameters if its ``eval.use_ema``). It must have been trained
on the score run's SDE (``model.noise`` = the score run's ``model.sde``, with the same betas or
sigmas) and the same data (``data.name``, ``data.scale``): a mismatch, a missing run, a run of
another family, a clean classifier (``model.noise='none'``) or a label outside its classes is one
`ConfigError` / FileNotFoundError before anything is written. Samples go to
``samples/<name>.npz`` with ``samples``, ``nfe`` (score-network evaluations per sample; each also
costs one classifier forward and backward pass) and ``label`` (the class of each sample).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from jaxgen.diffusion import classifier_guidance as cg
from jaxgen.diffusion import classifier_free as class_guidance
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import samples as samples_lib
from jaxgen.runtime import workdir as workdir_lib

KEY = 'config.sampling.classifier'
# Defaults of the guidance keys where a score run's sampling section lacks them.
DEFAULTS = dict(classifier='', classifier_scale=1.0, label=-1)


def settings(sampling) -> dict:
  """The guidance keys of a sampling section (``DEFAULTS`` where it lacks them)."""
  return {k: type(v)(sampling[k]) if k in sampling else v for k, v in DEFAULTS.items()}


@dataclasses.dataclass(frozen=True)
class GuidingClassifier:
  """An opened classifier run: its workdir, config, checkpoint step, evaluation params, number of
  classes and ``log_prob_y(params, t, x, y) -> [b]`` (nats)."""

  workdir: str
  config: object
  step: int
  params: object
  num_classes: int
  log_prob_y: Callable


def _noise(model_config, key: str) -> tuple[str, str, tuple]:
  """``(kind, 'key=value (params)' text, comparable value)`` of a score run's model.sde or a
  classifier run's model.noise."""
  kind = model_config[key]
  names = {'vesde': ('sigma_min', 'sigma_max'), 'none': ()}.get(kind, ('beta_min', 'beta_max'))
  values = tuple(float(model_config[n]) for n in names)
  text = f'model.{key}={kind!r}' + (' (' + ', '.join(f'{n}={v:g}' for n, v in zip(names, values))
                                    + ')' if names else '')
  return kind, text, (kind, values)


def check_match(score_config, classifier_config, workdir: str) -> None:
  """Refuses a classifier run that cannot guide the score run of `score_config` (one line naming
  both keys): another family, no noise, another SDE or SDE parameters, other data."""
  where = f'{KEY}={workdir}'
  family = classifier_config.model.family
  if family != 'classifier':
    raise cfg_lib.ConfigError(f'{where} is a {family} run, not a classifier run (model.family='
                              "'classifier'; train one with experiments/classifier/...)")
  if score_config.model.family != 'score_sde':
    raise cfg_lib.ConfigError(f'{where}: classifier guidance is for score_sde runs; this run is '
                              f'{score_config.model.family} (set {KEY}=\'\')')
  _, clf_text, clf = _noise(classifier_config.model, 'noise')
  _, score_text, score = _noise(score_config.model, 'sde')
  if clf[0] == 'none':
    raise cfg_lib.ConfigError(f"{where} is a clean classifier (model.noise='none'): it knows "
                              f'p(y | x) of data, not of x(t); guide with one trained on '
                              f'this run\'s {score_text}')
  if clf != score:
    raise cfg_lib.ConfigError(f"{where}: the classifier's {clf_text} is not this score run's "
                              f'{score_text}; train the classifier on the same SDE')
  for key in ('data.name', 'data.scale'):
    a, b = classifier_config.data[key[5:]], score_config.data[key[5:]]
    if a != b:
      raise cfg_lib.ConfigError(f"{where}: the classifier's {key}={a!r} is not this score run's "
                                f'{key}={b!r}; train the classifier on the same data and scaling')


def open_classifier(workdir: str, score_config) -> GuidingClassifier:
  """The classifier run in `workdir`, checked against the score run's config (`check_match`) before
  its checkpoint is restored; reads only."""
  config = workdir_lib.read_config(workdir, KEY)
  check_match(score_config, config, workdir)
  if workdir_lib.latest_step(workdir) is None:
    raise FileNotFoundError(f'{KEY}={workdir} has no checkpoint yet; train it first')
  run = run_lib.open_run(workdir)
  return GuidingClassifier(workdir=workdir, config=run.config, step=run.step, params=run.params,
                           num_classes=int(run.data.spec.num_classes),
                           log_prob_y=run.model.extras['log_prob_y'])


def _sample_with_score(run) -> Callable:
  """The score run's ``model.extras['sample_with_score'](params, rng, n, sampling, transform)``;
  a run of a family without it (no score to guide) is a ConfigError naming the key."""
  model = run.model
  if 'sample_with_score' not in model.extras:
    raise cfg_lib.ConfigError(
        f'{KEY}: classifier guidance needs a score-SDE run; this run is of family '
        f'{run.config.model.family!r}: remove --{KEY}')
  return model.extras['sample_with_score']


def guided_draw(run, classifier: GuidingClassifier) -> Callable:
  """``draw(params, rng, n, sampling) -> (x, info)`` (numpy, as `samples.sampler`): the score run's
  sampler guided by `classifier`, with ``sampling``'s ``classifier_scale`` and ``label``;
  ``params`` are the score run's, ``info`` adds ``label`` ``[n]``. Jit-compiled once per (n,
  sampling). A label outside the classifier's classes is a ConfigError."""
  sample_with = _sample_with_score(run)
  k = classifier.num_classes

  def sample(params, rng, n, sampling):  # sampling: the score family's typed settings
    labels = class_guidance.sample_labels(n, sampling.cond.label, k)
    log_p_y = lambda t, x, y: classifier.log_prob_y(params['classifier'], t, x, y)
    transform = lambda score: cg.guided_score(score, log_p_y, labels, sampling.classifier_scale)
    x, info = sample_with(params['model'], rng, n, sampling, transform)
    return x, dict(info, label=labels)

  draw = samples_lib.sampler(dataclasses.replace(run.model, sample=sample), run.mesh)

  def guided(params, rng, n, sampling):
    label = sampling.cond.label
    if not -1 <= label < k:
      raise cfg_lib.ConfigError(f'config.sampling.label={label} is not a class of {KEY}='
                                f'{classifier.workdir} (0..{k - 1}, or -1 for all in turn)')
    return draw({'model': params, 'classifier': classifier.params}, rng, n, sampling)

  return guided


def draw_for(run) -> Callable:
  """The classifier-guided ``draw`` of a score run whose ``sampling.classifier`` is set (the
  classifier opened and checked now). `launch.sample` passes it to `samples.write` or
  `chunked.write_chunks`."""
  workdir = settings(run.config.sampling)['classifier']
  if not workdir:
    raise cfg_lib.ConfigError(f"{KEY}='': give the classifier run's workdir")
  return guided_draw(run, open_classifier(workdir, run.config))
