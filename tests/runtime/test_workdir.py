"""workdir rules: a resume on other data is refused, whichever side has a fingerprint."""

import json
import types

import pytest

from jaxgen.runtime import config as cfg
from jaxgen.runtime import workdir

STAND_IN = {'stand_in': 'tfds:cifar10', 'shape': [32, 32, 3], 'num_levels': 256,
            'num_classes': 10}
PAIRS = {'pairs_file': '/runs/a/reflow/pairs.npz', 'pairs_digest': 'ab' * 32}


def _data(fingerprint):
  return types.SimpleNamespace(fingerprint=fingerprint, spec=types.SimpleNamespace(name='x'))


def _record(path, fingerprint):
  if fingerprint is not None:
    (path / workdir.DATA_FINGERPRINT).write_text(json.dumps(fingerprint))


@pytest.mark.parametrize('recorded,now', [
    (None, STAND_IN),             # trained on the real set, resumed where only a stand-in exists
    (STAND_IN, None),             # trained on a stand-in, resumed on the real set
    (PAIRS, {**PAIRS, 'pairs_digest': 'cd' * 32}),   # pairs replaced
    (PAIRS, None)])
def test_resume_on_other_data_is_refused(tmp_path, recorded, now):
  _record(tmp_path, recorded)
  with pytest.raises(cfg.ConfigError, match='was trained on .* now gives .* new --workdir'):
    workdir.check_data_fingerprint(str(tmp_path), _data(now), resuming=True)


@pytest.mark.parametrize('fingerprint', [None, STAND_IN, PAIRS])
def test_resume_on_the_same_data_and_fresh_runs_pass(tmp_path, fingerprint):
  _record(tmp_path, fingerprint)
  workdir.check_data_fingerprint(str(tmp_path), _data(fingerprint), resuming=True)
  workdir.check_data_fingerprint(str(tmp_path), _data(STAND_IN), resuming=False)


def test_the_fingerprint_is_written_for_fresh_runs_only(tmp_path):
  workdir.write_data_fingerprint(str(tmp_path), _data(STAND_IN), resuming=True)
  assert not (tmp_path / workdir.DATA_FINGERPRINT).exists()
  workdir.write_data_fingerprint(str(tmp_path), _data(STAND_IN), resuming=False)
  assert json.loads((tmp_path / workdir.DATA_FINGERPRINT).read_text()) == STAND_IN
