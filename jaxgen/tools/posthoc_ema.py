"""Writes a run's post-hoc EMA of any sigma_rel as a new, evaluable workdir (EDM2, App. C).

    out/config.json         the source run's config (``eval.posthoc_sigma_rel`` 0: the params
                            below are the reconstruction already)
    out/checkpoints/<step>/ {'step', 'params', 'ema_params', 'rng'}: both params fields the
                            reconstruction, the source's base key (samples use the source's keys)
    out/posthoc.json        the source, sigma_rel, gamma, step, snapshot steps and coefficients

`launch.evaluate` and `launch.sample` open ``out`` like any run (`jaxgen.runtime.run.open_run`
reads only those leaves); it has no optimizer state, so it cannot be trained further. The
reconstruction is `jaxgen.runtime.posthoc.reconstruct`. Everything is checked and reconstructed
before anything is written; ``config.json`` is written last, so a folder cut short is no run.
"""

from __future__ import annotations

import json
from typing import Optional

import numpy as np

from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import posthoc
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import workdir as workdir_lib
from jaxgen.store import checkpoint as ckpt_lib
from jaxgen.store import paths

RECORD = 'posthoc.json'


def default_out(workdir: str, sigma_rel: float, step: int) -> str:
  """``<workdir>_phema<sigma_rel>_step<step>``, beside the source run."""
  return f'{workdir.rstrip("/")}_phema{sigma_rel:g}_step{step}'


def write(workdir: str, sigma_rel: float, step: Optional[int] = None,
          out: str = '') -> tuple[str, dict]:
  """``(out, record)``: reconstructs `workdir`'s post-hoc EMA of `sigma_rel` at `step` (default:
  the newest snapshot) and writes it to `out` (default `default_out`), which must not exist."""
  config = workdir_lib.read_config(workdir)
  posthoc.check(config, workdir, sigma_rel, '--sigma_rel')
  if out and paths.exists(out):
    raise cfg_lib.ConfigError(f'--out={out} exists; choose a new folder (or remove it)')
  run = run_lib.Run(config)
  params, record = posthoc.reconstruct(run, workdir, sigma_rel, step)
  out = out or default_out(workdir, sigma_rel, record['step'])
  if paths.exists(out):
    raise cfg_lib.ConfigError(f'{out} exists (this reconstruction was written before?); give '
                              '--out NEW_FOLDER or remove it')
  rng = record.pop('rng')
  record = {'source': paths.abspath(workdir), **record}
  state = {'step': np.int32(record['step']), 'params': params, 'ema_params': params, 'rng': rng}
  config_json = cfg_lib.to_json(config)
  checkpointer = ckpt_lib.Checkpointer(out, keep=0, async_save=False)
  try:
    checkpointer.save(record['step'], state, config_json, force=True)
  finally:
    checkpointer.close()
  workdir_lib.write_atomic(paths.join(out, RECORD), json.dumps(record, indent=2))
  workdir_lib.write_config(out, config)
  return out, record
