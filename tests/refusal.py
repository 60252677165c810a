"""What every refusal test checks: exit status 2, one ``error:`` line matching a pattern, no
traceback, and the watched path exactly as it was (content digests and mtimes)."""

import hashlib
import os
import re

SHORT = ['--config.train.steps=2', '--config.train.progress=false']


def snapshot(path) -> dict:
  """Every file and folder under `path` (or `path` itself) with its content digest and mtime."""
  out = {}
  if not os.path.exists(path):
    return out
  def digest(p):
    with open(p, 'rb') as f:
      return hashlib.sha256(f.read()).hexdigest(), os.stat(p).st_mtime_ns

  if os.path.isfile(path):
    return {'.': digest(path)}
  for root, dirs, files in os.walk(path):
    for d in dirs:
      out[os.path.relpath(os.path.join(root, d), path)] = 'dir'
    for f in files:
      out[os.path.relpath(os.path.join(root, f), path)] = digest(os.path.join(root, f))
  return out


def one_error(capsys, pattern: str) -> str:
  err = capsys.readouterr().err
  lines = [ln for ln in err.splitlines() if ln.startswith('error:')]
  assert len(lines) == 1, err
  assert 'Traceback' not in err, err
  assert re.search(pattern, lines[0]), lines[0]
  return lines[0]


def refused(capsys, main, argv, pattern, watch):
  """Runs ``main(argv)`` and checks: exit 2, one error line matching `pattern`, `watch` (a path)
  unchanged. Returns the line."""
  before = snapshot(watch)
  assert main(argv) == 2
  line = one_error(capsys, pattern)
  assert snapshot(watch) == before
  return line
