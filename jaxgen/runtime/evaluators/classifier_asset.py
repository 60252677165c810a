"""Pinned evaluation classifiers: a jaxgen-trained clean classifier per laptop data set, its
weights committed under ``jaxgen/assets/`` so that every run on every machine measures sample
quality (`jaxgen.runtime.evaluators.classifier_features`: FD, IS, KID, class accuracy) in the
same feature space.

    python -m launch.export_classifier --workdir runs/clf_digits_clean \
        --out jaxgen/assets/classifier_digits.npz        # writes the .npz, updates the manifest
    asset = classifier_asset.load('digits')               # verifies the SHA-256
    feats, logits = asset.embed(x)                        # x in [-1, 1], [b, H, W, C]

Files
-----
* ``classifier_<data>.npz``: the run's evaluation (EMA) parameters, float32, one array per leaf
  named by its path (``res_0_0/Conv_0/kernel``). The file is byte-deterministic: entries sorted,
  stored uncompressed (ZIP_STORED) with a fixed 1980-01-01 timestamp (``np.savez`` stamps the
  current time), so exporting the same parameters twice gives the same bytes.
* ``classifiers.json`` (the manifest): per data name the file, the **SHA-256 of the file's bytes**
  (checked on every load: a changed byte is refused in one line naming the file and the fix), its
  size, the network config (`jaxgen.nets.classifier.defaults` keys, ``time_conditional`` false),
  ``num_classes``, ``feature_dim``, the data the features expect (``data.name``, ``data.scale``
  'symmetric' = pixels in [-1, 1] as the experiments' data, ``num_levels``, image ``shape``), the
  test accuracy of the stored parameters on the whole evaluation split, the run's step, the
  experiment and the command that made it.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import os
import zipfile
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.nets import classifier as net_lib
from jaxgen.runtime import config as cfg_lib
from jaxgen.store import shards

_JAXGEN = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ASSET_DIR = os.path.join(_JAXGEN, 'assets')
MANIFEST = 'classifiers.json'
# The scaling every asset's features expect (the experiments' data.scale='symmetric').
SCALE = 'symmetric'
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class AssetError(ValueError):
  """A pinned asset is missing, unknown or fails its SHA-256; the message names the file and fix."""


@dataclasses.dataclass(frozen=True)
class ClassifierAsset:
  """A loaded, verified evaluation classifier: its manifest entry, parameters and
  ``embed(x) -> (features [b, F], logits [b, K])`` (jit-compiled; ``x`` in [-1, 1])."""

  name: str
  path: str
  entry: dict
  params: dict
  embed: Callable

  @property
  def num_classes(self) -> int:
    return int(self.entry['num_classes'])

  def embed_all(self, x, chunk: int = 256):
    """(features, logits) of an [n, ...] numpy array, in chunks of `chunk` rows (the last one
    padded with zeros), so every n runs one compiled shape."""
    x = np.asarray(x, np.float32)
    feats, logits = [], []
    for i in range(0, len(x), chunk):
      part = x[i:i + chunk]
      pad = chunk - len(part)
      if pad:
        part = np.concatenate([part, np.zeros((pad,) + part.shape[1:], part.dtype)])
      f, l = self.embed(part)
      feats.append(np.asarray(f)[:chunk - pad])
      logits.append(np.asarray(l)[:chunk - pad])
    return np.concatenate(feats), np.concatenate(logits)


def flatten_params(params) -> dict:
  """``{'a/b/kernel': float32 array}`` of a nested params dict (sorted paths)."""
  out = {}

  def walk(d, prefix):
    for k in sorted(d):
      v = d[k]
      if isinstance(v, dict) or hasattr(v, 'items'):
        walk(dict(v), f'{prefix}{k}/')
      else:
        out[f'{prefix}{k}'] = np.asarray(jax.device_get(v), np.float32)

  walk(dict(params), '')
  return out


def unflatten_params(flat: dict) -> dict:
  out: dict = {}
  for path, v in flat.items():
    d = out
    *parents, leaf = path.split('/')
    for p in parents:
      d = d.setdefault(p, {})
    d[leaf] = jnp.asarray(v)
  return out


def write_npz(path: str, flat: dict) -> None:
  """A byte-deterministic .npz (readable by `np.load`): sorted entries, stored, fixed times."""
  buf = io.BytesIO()
  with zipfile.ZipFile(buf, 'w', zipfile.ZIP_STORED) as z:
    for name in sorted(flat):
      arr = io.BytesIO()
      np.lib.format.write_array(arr, np.ascontiguousarray(flat[name]), allow_pickle=False)
      info = zipfile.ZipInfo(name + '.npy', date_time=_ZIP_TIME)
      info.external_attr = 0o644 << 16
      z.writestr(info, arr.getvalue())
  with open(path, 'wb') as f:
    f.write(buf.getvalue())


def read_manifest(directory: Optional[str] = None) -> dict:
  path = os.path.join(directory or ASSET_DIR, MANIFEST)
  if not os.path.exists(path):
    return {}
  with open(path) as f:
    return json.load(f)


def names(directory: Optional[str] = None) -> tuple:
  """The data names that have a pinned classifier."""
  return tuple(sorted(read_manifest(directory)))


def _net(entry: dict):
  cfg = ml_collections.ConfigDict(entry['net'])
  return net_lib.build(cfg, entry['num_classes'], time_conditional=False)


def load(name: str, directory: Optional[str] = None) -> ClassifierAsset:
  """The pinned classifier of data `name` (``digits``, ``fashion_mnist``), its file's SHA-256
  checked against the manifest before anything is read from it."""
  directory = directory or ASSET_DIR
  manifest = read_manifest(directory)
  if name not in manifest:
    raise cfg_lib.ConfigError(
        f'config.eval.metrics: no pinned evaluation classifier for data {name!r} (have: '
        f'{", ".join(sorted(manifest)) or "none"}); remove fd/is/kid/class_accuracy from '
        'config.eval.metrics for this data')
  entry = manifest[name]
  path = os.path.join(directory, entry['file'])
  if not os.path.exists(path):
    raise AssetError(f'{path} is missing (the pinned classifier of {name!r}); restore it with '
                     f'`git checkout -- jaxgen/assets/{entry["file"]}`')
  digest = shards.file_sha256(path)
  if digest != entry['sha256']:
    raise AssetError(f'{path} has SHA-256 {digest[:12]}..., not the manifest\'s '
                     f'{entry["sha256"][:12]}...: the file was changed; restore it with `git '
                     f'checkout -- jaxgen/assets/{entry["file"]}` (or re-export: '
                     f'{entry["command"]})')
  params, embed = _verified(os.path.abspath(path), digest, json.dumps(entry, sort_keys=True))
  return ClassifierAsset(name=name, path=path, entry=entry, params=params, embed=embed)


@functools.lru_cache(maxsize=8)
def _verified(path: str, digest: str, entry_json: str):
  """The parameters and the jit-compiled embedding of a file whose digest was just checked (one
  compilation per asset and process: the key holds the digest, so a changed file is re-read)."""
  del digest
  with np.load(path, allow_pickle=False) as z:
    params = unflatten_params({k: z[k] for k in z.files})
  net = _net(json.loads(entry_json))

  @jax.jit
  def embed(x):
    logits, feats = net.apply({'params': params}, x, jnp.zeros(x.shape[:1]), features=True)
    return feats, logits

  return params, embed


def export(run, out: str, command: str) -> dict:
  """Writes the evaluation parameters of an opened clean classifier run (`run.open_run`) to `out`
  (deterministic .npz) and its entry into the manifest beside it; returns the entry.
  Refuses another family, a noisy classifier and data other than digits / fashion_mnist with
  images scaled to [-1, 1]."""
  c = run.config
  where = f'--workdir (model.family={c.model.family!r})'
  if c.model.family != 'classifier':
    raise cfg_lib.ConfigError(f'{where} is not a classifier run; train one with '
                              'experiments/classifier/<data>.py:clean')
  if c.model.noise != 'none':
    raise cfg_lib.ConfigError(f"model.noise={c.model.noise!r}: an evaluation classifier must be "
                              "clean (model.noise='none'); train experiments/classifier/<data>.py:clean")
  if c.data.scale != SCALE or c.data.binarize != 'none':
    raise cfg_lib.ConfigError(f'data.scale={c.data.scale!r} / data.binarize={c.data.binarize!r}: '
                              f"the pinned features expect data.scale='{SCALE}' unbinarized images")
  spec = run.data.spec
  flat = flatten_params(run.params)
  net_cfg = {k: (list(v) if isinstance(v, tuple) else v)
             for k, v in c.model.classifier.to_dict().items()}
  entry = dict(
      file=os.path.basename(out), sha256='', bytes=0,
      digest='SHA-256 of the file bytes (the .npz is written byte-deterministically)',
      data=dict(name=c.data.name, scale=SCALE, range=[-1.0, 1.0], num_levels=spec.num_levels,
                shape=list(spec.shape), dequantize=bool(c.data.dequantize)),
      net=net_cfg, num_classes=int(spec.num_classes),
      feature_dim=int(c.model.classifier.nf * c.model.classifier.ch_mult[-1]),
      num_params=int(sum(v.size for v in flat.values())), dtype='float32',
      step=int(run.step), ema=bool(c.eval.use_ema), command=command)
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  write_npz(out, flat)
  entry['sha256'] = shards.file_sha256(out)
  entry['bytes'] = os.path.getsize(out)
  # The accuracy of the stored parameters (read back through `load`'s path), whole eval split.
  directory = os.path.dirname(os.path.abspath(out))
  manifest = read_manifest(directory)
  manifest[c.data.name] = entry
  _write_manifest(directory, manifest)
  asset = load(c.data.name, directory)
  hits, n = 0, 0
  for batch in run.data.eval_batches(500):
    mask = np.asarray(batch['mask'], bool)
    _, logits = asset.embed(jnp.asarray(batch['x']))
    hits += int(np.sum((np.argmax(np.asarray(logits), -1) == np.asarray(batch['label']))[mask]))
    n += int(mask.sum())
  entry['test_accuracy'] = round(hits / n, 4)
  entry['test_examples'] = n
  manifest[c.data.name] = entry
  _write_manifest(directory, manifest)
  return entry


def _write_manifest(directory: str, manifest: dict) -> None:
  with open(os.path.join(directory, MANIFEST), 'w') as f:
    json.dump(manifest, f, indent=1, sort_keys=True)
    f.write('\n')
