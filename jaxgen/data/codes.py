"""Code grids: the ``codes:<folder>`` source of a VQ-VAE's discrete codes, for a prior over them.

A codes folder (written by ``python -m launch.encode_codes``, by default ``RUN/codes/``) holds

    shard_00000.npz ...  codes: int32 [m, h, w] (0..K-1), label: int32 [m] where the data has
                         labels; the training split's shards first, then the test split's (m =
                         index.shard_size, a split's last shard the rest); written
                         byte-deterministically (`jaxgen.store.shards.npz_bytes`)
    shard_00000.json     the shard's record: index, split, count, SHA-256 and size, the code
                         histogram and the squared error of the decoded images
    plan.json            how the codes are made (written first; a resumed encoding must match)
    index.json           written last, once every shard exists: ``plan`` (``source_workdir``,
                         ``source_step``, ``source_config`` of the VQ-VAE run, ``num_codes`` K,
                         ``grid`` [h, w], the split sizes), ``chunks`` (the shards' records),
                         ``splits`` (per split: its shards, ``usage``, ``perplexity``,
                         ``recon_mse``) and ``digest`` (SHA-256 of the grid and the shards'
                         SHA-256s: the identity of the codes)

Without ``index.json`` the folder is unfinished: the source refuses it and says to rerun the
encoding, which resumes. The source loads the whole folder at open, each shard's SHA-256
checked (memory: 4 h w bytes per example, 14 MB for Fashion-MNIST's 70,000 7x7 grids).

Batches: ``x`` = the codes as a one-channel image ``[b, h, w, 1]`` of K levels, float32 0..K-1
(``data.scale='levels'``, the only scale accepted: the PixelCNN family's categorical over K
levels), and ``label`` where the folder has labels. Training batches walk a fresh permutation of
the training split per epoch, drawn from (seed, 1, epoch) as every finite source: a pure function
of (seed, step). Evaluation is on the test split's codes, in order.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from jaxgen.data import source
from jaxgen.store import paths
from jaxgen.store import shards

PREFIX = 'codes:'
FORMAT = 'jaxgen.codes/1'
STEM = 'shard'
SPLITS = ('train', 'test')
HOW = ('make them from a trained VQ-VAE run with `python -m launch.encode_codes --workdir RUN` '
       '(it writes RUN/codes/), then train with --config.data.name=codes:RUN/codes')
# data.* keys that a codes: source does not use, with the only values it accepts.
FIXED = {'scale': 'levels', 'dequantize': False, 'binarize': 'none', 'flip': False,
         'train_split': 'train', 'eval_split': 'test'}


def digest(grid, records) -> str:
  """SHA-256 (hex) of the grid shape and the shards' SHA-256s, in order."""
  return shards.sha256((repr(tuple(int(v) for v in grid))
                        + ''.join(r['sha256'] for r in records)).encode())


def index(plan: dict, records: list) -> dict:
  """The ``index.json`` dict: the plan, the records, per-split summaries and the `digest`."""
  k = int(plan['num_codes'])
  splits = {}
  for split in SPLITS:
    mine = [r for r in records if r['split'] == split]
    hist = np.sum([r['histogram'] for r in mine], axis=0) if mine else np.zeros(k)
    n = int(sum(r['num'] for r in mine))
    p = hist / max(hist.sum(), 1)
    splits[split] = dict(
        num=n, shards=[r['index'] for r in mine],
        usage=float(np.mean(hist > 0)),
        perplexity=float(np.exp(-np.sum(p[p > 0] * np.log(p[p > 0])))),
        recon_mse=float(sum(r['squared_error'] for r in mine) / max(n * plan['pixels'], 1)))
  return dict(plan=plan, format=FORMAT, chunks=records, splits=splits,
              digest=digest(plan['grid'], records))


def _error_name(folder: str) -> str:
  return f'data.name={PREFIX}{folder}'


def read_index(folder: str) -> dict:
  """The index of a finished codes folder; FileNotFoundError / ValueError naming the fix."""
  meta = shards.read_index(folder, f'{_error_name(folder)}: the codes folder',
                           'the `python -m launch.encode_codes --workdir VQVAE_RUN` that made it')
  if meta.get('format') != FORMAT:
    raise ValueError(f'{_error_name(folder)}: {folder}/index.json is not a codes index '
                     f'(format {meta.get("format")!r}); {HOW}')
  return meta


def load(folder: str) -> tuple[dict, dict]:
  """``(index, {split: {'codes': [n, h, w] int32, 'label': [n] or None}})`` of a finished
  folder, each shard's SHA-256 checked as it is read."""
  meta = read_index(folder)
  parts: dict = {s: [] for s in SPLITS}
  arrays = shards.iterate(folder, key=None, kind=f'{_error_name(folder)}: the codes folder',
                          remake='`python -m launch.encode_codes --workdir VQVAE_RUN`')
  for rec, arr in zip(meta['chunks'], arrays):
    parts[rec['split']].append(arr)
  out = {}
  for s, got in parts.items():
    codes = np.concatenate([a['codes'] for a in got]) if got else np.zeros(
        (0, *meta['plan']['grid']), np.int32)
    labels = np.concatenate([a['label'] for a in got]) if got and 'label' in got[0] else None
    out[s] = {'codes': codes.astype(np.int32), 'label': labels}
  return meta, out


class CodesSource(source.Source):
  """The ``codes:<folder>`` source (module docstring)."""

  def __init__(self, cfg, seed: int):
    super().__init__(cfg, seed)
    name = cfg.name
    wrong = [f'data.{k}={cfg[k]!r}' for k, v in FIXED.items() if cfg[k] != v]
    if wrong:
      raise ValueError(f'{name}: {", ".join(wrong)}: code grids are integer images of K levels '
                       'read as they are; set ' + ', '.join(f'data.{k}={v!r}'
                                                            for k, v in FIXED.items()))
    self._path = name[len(PREFIX):].rstrip('/')
    self.index, data = load(self._path)
    n = int(cfg.max_examples)
    self._train = {k: (v[:n] if n and v is not None else v) for k, v in data['train'].items()}
    self._test = {k: (v[:n] if n and v is not None else v) for k, v in data['test'].items()}
    if not len(self._train['codes']) or not len(self._test['codes']):
      raise ValueError(f'{name}: the codes folder has an empty training or test split; remake it '
                       f'with more examples ({HOW})')
    plan = self.index['plan']
    k = int(plan['num_codes'])
    labelled = self._train['label'] is not None
    self.spec = source.DataSpec(name, (*plan['grid'], 1), 0.0, float(k - 1), k,
                                plan['num_classes'] if labelled else None, 'levels')

  @property
  def train_size(self) -> int:
    return len(self._train['codes'])

  @property
  def eval_size(self) -> int:
    return len(self._test['codes'])

  @property
  def fingerprint(self) -> dict:
    """The folder's absolute path and digest: a run refuses to resume on other codes."""
    return {'codes_dir': paths.abspath(self._path), 'codes_digest': self.index['digest']}

  def eval_source(self) -> dict:
    own = super().eval_source()
    own['data']['name'] = PREFIX + paths.abspath(self._path)
    return own

  @staticmethod
  def _batch(split: dict, idx: np.ndarray) -> dict:
    out = {'x': split['codes'][idx][..., None].astype(np.float32)}
    if split['label'] is not None:
      out['label'] = split['label'][idx]
    return out

  def _global_train_batch(self, step, batch_size):
    return self._batch(self._train, self._indices(step, batch_size))

  def _global_eval_batch(self, idx, batch, draw):
    return self._batch(self._test, idx)

  def _eval_examples(self, n):
    return self._batch(self._test, np.arange(n))['x']


def source_of(name: str) -> Optional[str]:
  """The folder of a ``codes:<folder>`` data name, else None."""
  return name[len(PREFIX):].rstrip('/') if str(name).startswith(PREFIX) else None


source.register(PREFIX, CodesSource, PREFIX + '<folder>')
