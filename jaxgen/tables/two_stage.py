"""The two-stage runs of a table: a prior trained on the codes of a VQ-VAE run
(`RunSpec.codes_from`), and its rows evaluated through the VQ-VAE's decoder.

`jaxgen.tables.plan` adds, per training seed s (V: the VQ-VAE's seed-s run):

* ``codes``: ``python -m launch.encode_codes --workdir V``, after V's training and before the
  prior's; it writes ``V/codes/`` (`codes_folder`). Done when V is trained and that folder's
  ``index.json`` was encoded at V's newest checkpoint (`codes_step`). A finished folder of
  another step (a VQ-VAE trained on since) is encoded again with ``--force``, which replaces the
  codes (never a checkpoint); an unfinished folder resumes.
* the prior's training, with ``--config.data.name=codes:V/codes`` (`train_overrides`). It is done
  when the codes are and the prior trained on the codes the folder holds now (`on_codes`: the
  data fingerprint launch.train recorded names their digest). A prior trained on replaced codes
  is not done, and launch.train refuses to resume it in one line (train it in a new ``--runs``
  folder): a build never evaluates a prior on other codes than its VQ-VAE's.
* a row of the prior: ``python -m launch.two_stage --workdir PRIOR --out ROW --metrics M`` (M:
  the row's sample metrics, e.g. ``fd``; `evaluate_argv`) instead of launch.evaluate. Its row
  file holds ``eval/prior_bits_per_code``, ``eval/two_stage_bpd``, ``eval/uniform_prior_bpd``,
  the codes' test-split ``eval/recon_mse``, ``eval/usage`` and ``eval/perplexity``, and the
  metrics of decoded samples (`jaxgen.tools.two_stage`).
"""

from __future__ import annotations

import json
import os
from typing import Optional

from jaxgen.runtime import workdir as workdir_lib
from jaxgen.runtime.evaluators import classifier_features


def codes_folder(vqvae: str) -> str:
  """The codes folder launch.encode_codes writes for the VQ-VAE run `vqvae`."""
  return os.path.join(vqvae, 'codes')


def _read(path: str) -> Optional[dict]:
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


def _index(vqvae: str) -> Optional[dict]:
  return _read(os.path.join(codes_folder(vqvae), 'index.json'))


def codes_step(vqvae: str, steps: int) -> tuple[tuple, bool]:
  """``(argv, done)`` of encoding the codes of the VQ-VAE run `vqvae` (trained to `steps`)."""
  index, latest = _index(vqvae), workdir_lib.latest_step(vqvae)
  done = (index is not None and latest is not None and latest >= steps
          and index['plan']['source_step'] == latest)
  stale = index is not None and not done
  return ('-m', 'launch.encode_codes', '--workdir', vqvae, *(('--force',) if stale else ())), done


def train_overrides(vqvae: str) -> dict:
  """The training overrides of a prior on the codes of `vqvae`."""
  return {'data.name': 'codes:' + codes_folder(vqvae)}


def on_codes(prior: str, vqvae: str) -> bool:
  """Whether the prior run `prior` trained on the codes `vqvae`'s folder holds now."""
  index = _index(vqvae)
  fingerprint = _read(os.path.join(prior, workdir_lib.DATA_FINGERPRINT)) or {}
  return index is not None and fingerprint.get('codes_digest') == index['digest']


def evaluate_argv(prior: str, out: str, metrics: tuple, flags: list,
                  step: Optional[int]) -> tuple:
  """The command evaluating a row of the prior run `prior` into the row file `out`: its sample
  metrics among `metrics` on decoded samples, `flags` (``--config.*`` evaluation overrides, not
  ``eval.metrics`` / ``eval.rng_keys``: the prior's evaluation key is its own), at `step`."""
  sample = [m for m in metrics if m in classifier_features.DECLARATION.names]
  return ('-m', 'launch.two_stage', '--workdir', prior, '--out', out,
          *(('--metrics', ','.join(sample)) if sample else ()), *flags,
          *(('--step', str(step)) if step is not None else ()))
