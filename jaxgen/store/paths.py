"""The one path layer: every file of a workdir is read and written through here, on `etils.epath`
(the layer Orbax uses), so a workdir is a local folder or a bucket (``--workdir gs://bucket/run``).

Conventions:

- A path is a ``str`` (what the user typed) or an ``os.PathLike``: a local path (``runs/x``) or a
  URL of a scheme epath knows (`REMOTE`: ``gs://`` needs ``gcsfs``, and ``google-cloud-storage``
  for Orbax's own listing). Paths travel as ``str``; `join` and `abspath` return ``str``, `path`
  gives the ``epath.Path`` for the rest. ``gs://`` is always spelled with its scheme (never the
  ``/gcs/`` mount) so that Orbax picks TensorStore's GCS driver for the arrays.
- On a local path every function does exactly what the ``os`` / ``open`` call it replaces did.
- An object store has no folders, no rename and no append. So there `makedirs` does nothing (a
  bucket is never created: a missing one fails at the first write), `write_atomic` is one upload
  (GCS shows an object whole or not at all), and `Appender` keeps the text it appended and
  uploads it all again at each ``flush`` (fsspec's own ``open(mode='a')`` on GCS silently
  *overwrites*: never use it for a remote path).
- `create_exclusive` is the lock's primitive: ``O_CREAT | O_EXCL`` locally; on ``gs://`` an
  upload with ``ifGenerationMatch=0``, which GCS refuses atomically if the object exists; on the
  other schemes fsspec's ``mode='create'``, atomic only where that store has conditional writes.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import shutil
from typing import IO, Union

import numpy as np
from etils import epath

PathLike = Union[str, os.PathLike]

# The URL schemes epath routes to a remote file system (fsspec: gcsfs, s3fs, adlfs, huggingface).
REMOTE = ('gs://', 's3://', 'az://', 'hf://')


def path(p: PathLike) -> epath.Path:
  """`p` as an ``epath.Path`` (``gs://...`` keeps its scheme)."""
  return epath.Path(p)


def _fresh(p: PathLike) -> epath.Path:
  """`path(p)` for a remote `p`, after dropping fsspec's cached listings: other clients
  (TensorStore, google-cloud-storage in Orbax, another process) write to the same bucket, so a
  listing cached by gcsfs may be stale; every question about what exists asks the store."""
  from etils.epath import backend  # epath's fsspec back end (the one its gs:// paths use)

  backend.fsspec_backend.fs(os.fspath(p)).invalidate_cache()
  return path(p)


def is_local(p: PathLike) -> bool:
  """True for a path of this machine's file system, False for a `REMOTE` URL."""
  return not os.fspath(p).startswith(REMOTE)


def join(p: PathLike, *parts: str) -> str:
  """``os.path.join`` for a local path; the URL with ``/parts`` for a remote one."""
  if is_local(p):
    return os.path.join(p, *parts)
  return str(path(p).joinpath(*parts))


def abspath(p: PathLike) -> str:
  """``os.path.abspath`` for a local path; a remote URL as it is (it is absolute already)."""
  return os.path.abspath(p) if is_local(p) else str(path(p))


def exists(p: PathLike) -> bool:
  return os.path.exists(p) if is_local(p) else _fresh(p).exists()


def isdir(p: PathLike) -> bool:
  """Locally ``os.path.isdir``; remotely, whether some object lies under ``p/``."""
  return os.path.isdir(p) if is_local(p) else _fresh(p).is_dir()


def isfile(p: PathLike) -> bool:
  """Locally ``os.path.isfile``; remotely, whether the object `p` itself exists."""
  return os.path.isfile(p) if is_local(p) else _fresh(p).is_file()


def listdir(p: PathLike) -> list[str]:
  """The names (not paths) in folder `p`, sorted."""
  if is_local(p):
    return sorted(os.listdir(p))
  return sorted(q.name for q in _fresh(p).iterdir())


def makedirs(p: PathLike) -> None:
  """``os.makedirs(p, exist_ok=True)`` locally; nothing on an object store (no folders there)."""
  if is_local(p):
    os.makedirs(p, exist_ok=True)


def open(p: PathLike, mode: str = 'r') -> IO:  # noqa: A001  (the module's open, as os.open)
  """The file `p` opened for reading (``'r'``, ``'rb'``) or writing (``'w'``, ``'wb'``, and
  locally ``'a'``); a remote file is uploaded when it is closed. Appending to a remote file is
  refused here: use `Appender`."""
  if is_local(p):
    return builtins.open(p, mode)
  if 'a' in mode or '+' in mode:
    raise ValueError(f'open({os.fspath(p)!r}, {mode!r}): an object store cannot append; use '
                     'paths.Appender')
  return path(p).open(mode)


def read_text(p: PathLike) -> str:
  with open(p) as f:
    return f.read()


def read_bytes(p: PathLike) -> bytes:
  with open(p, 'rb') as f:
    return f.read()


def write_text(p: PathLike, text: str) -> None:
  with open(p, 'w') as f:
    f.write(text)


def write_bytes(p: PathLike, data: bytes) -> None:
  with open(p, 'wb') as f:
    f.write(data)


def write_npz(p: PathLike, **arrays) -> None:
  """``np.savez(p, **arrays)``, built in memory and written in one go (`p` ends in ``.npz``:
  unlike ``np.savez``, nothing is appended to the name)."""
  buf = io.BytesIO()
  np.savez(buf, **arrays)
  write_bytes(p, buf.getvalue())


def load_npz(p: PathLike) -> dict:
  """The arrays of the ``.npz`` file `p` (read whole), as a dict of numpy arrays."""
  with np.load(io.BytesIO(read_bytes(p))) as z:
    return {k: z[k] for k in z.files}


def write_atomic(p: PathLike, data: Union[str, bytes]) -> None:
  """Writes `data` (text or bytes) so that no reader ever sees `p` half-written: locally through
  ``p.tmp<pid>`` (fsynced) and ``os.replace``, the temporary file removed again on a failure (a
  full disk), `p` then as it was; remotely as one upload."""
  mode = 'wb' if isinstance(data, bytes) else 'w'
  if not is_local(p):
    with open(p, mode) as f:
      f.write(data)
    return
  tmp = f'{os.fspath(p)}.tmp{os.getpid()}'
  try:
    with builtins.open(tmp, mode) as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, p)
  except BaseException:  # a full disk: `p` is as it was, and no temporary file is left
    with contextlib.suppress(FileNotFoundError):
      os.remove(tmp)
    raise


def create_exclusive(p: PathLike, data: Union[str, bytes]) -> bool:
  """Creates `p` holding `data` if no file `p` exists (True), else changes nothing (False).

  Atomic locally (``O_CREAT | O_EXCL``) and on ``gs://`` (``ifGenerationMatch=0``): of two
  processes racing, exactly one gets True. On other schemes fsspec's ``mode='create'``, as atomic
  as that store's conditional writes. The object store has no ``flock`` and no process ids, so a
  lock built on this cannot tell a live holder from a dead one: the caller decides when a lock
  is stale (e.g. from a time stamp in `data`)."""
  raw = data.encode() if isinstance(data, str) else data
  if is_local(p):
    try:
      fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
      return False
    try:
      with os.fdopen(fd, 'wb') as f:
        f.write(raw)
        f.flush()
        os.fsync(f.fileno())
    except BaseException:  # never leave a half-written file that would block the next try
      remove(p)
      raise
    return True
  import fsspec  # epath's own remote back end; only needed for remote paths

  fs, key = fsspec.core.url_to_fs(os.fspath(p))
  try:
    fs.pipe_file(key, raw, mode='create')
  except FileExistsError:
    return False
  return True


def remove(p: PathLike, missing_ok: bool = True) -> None:
  """Deletes the file `p` (a missing one is fine unless ``missing_ok=False``)."""
  if is_local(p):
    try:
      os.remove(p)
    except FileNotFoundError:
      if not missing_ok:
        raise
    return
  path(p).unlink(missing_ok=missing_ok)


def rmtree(p: PathLike) -> None:
  """Deletes the folder `p` and everything under it (errors ignored, as
  ``shutil.rmtree(p, ignore_errors=True)``)."""
  if is_local(p):
    shutil.rmtree(p, ignore_errors=True)
    return
  with contextlib.suppress(OSError):
    _fresh(p).rmtree()


class Appender:
  """A text file opened for appending, ``write`` + ``flush`` + ``close`` (as ``open(p, 'a')``).

  Locally it is ``open(p, 'a')``. Remotely it starts from the object's text (if any), and each
  ``flush`` (and ``close``) uploads the whole text again, so a flushed line survives a crash as it
  does locally; fine for a log of a few thousand lines (metrics.jsonl), not for large files."""

  def __init__(self, p: PathLike):
    self.name = os.fspath(p)
    self._local = is_local(p)
    if self._local:
      self._file = builtins.open(p, 'a')
      return
    self._text = io.StringIO()
    if exists(p):
      self._text.write(read_text(p))
    self._dirty = False

  def write(self, text: str) -> int:
    if self._local:
      return self._file.write(text)
    self._dirty = True
    return self._text.write(text)

  def flush(self) -> None:
    if self._local:
      self._file.flush()
    elif self._dirty:
      write_atomic(self.name, self._text.getvalue())
      self._dirty = False

  def close(self) -> None:
    if self._local:
      self._file.close()
    else:
      self.flush()

  def __enter__(self) -> 'Appender':
    return self

  def __exit__(self, *exc) -> None:
    self.close()
