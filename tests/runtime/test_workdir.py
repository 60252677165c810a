"""workdir rules: a resume on other data is refused, whichever side has a fingerprint."""

import json
import types

import pytest

from jaxgen.runtime import config as cfg
from jaxgen.runtime import workdir
from tests.conftest import tiny_config

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


def test_a_checkpoint_written_with_another_config_is_refused_on_resume():
  config = tiny_config()
  stored = json.loads(cfg.to_json(tiny_config(**{'model.score_mlp.width': '16'})))
  with pytest.raises(cfg.ConfigError, match='step 6 .* different config .*model.score_mlp.width'):
    workdir.check_checkpoint_config(stored, config, 6, '/x/checkpoints')
  resumable = json.loads(cfg.to_json(tiny_config(**{'train.steps': '12'})))
  workdir.check_checkpoint_config(resumable, config, 6, '/x/checkpoints')  # a resume key
  workdir.check_checkpoint_config(None, config, 6, '/x/checkpoints')  # an old checkpoint


def test_a_run_written_before_a_key_existed_resumes_with_the_keys_default(tmp_path):
  """A config.json / checkpoint config lacking a key added to the schema later (here the
  conditioning keys model.num_classes, loss.p_uncond, sampling.label) means the key's default,
  the behaviour that run had: its resume is not refused. A changed key beside them still is."""
  config = tiny_config()
  stored = json.loads(cfg.to_json(config))
  for section, key in (('model', 'num_classes'), ('loss', 'p_uncond'), ('sampling', 'label')):
    stored[section].pop(key)
  workdir.check_checkpoint_config(stored, config, 6, '/x/checkpoints')
  (tmp_path / workdir.CONFIG).write_text(json.dumps(stored))
  workdir.check_resume(str(tmp_path), config)
  stored['model']['score_mlp']['width'] += 1   # a change beside the missing keys still counts
  with pytest.raises(cfg.ConfigError, match=r'different config \(model.score_mlp.width differ'):
    workdir.check_checkpoint_config(stored, config, 6, '/x/checkpoints')
