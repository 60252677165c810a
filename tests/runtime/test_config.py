"""Config schema: unknown keys, wrong types and invalid values fail with one clear message."""

import os

import pytest

from jaxgen.runtime import config as cfg
from jaxgen.runtime import overrides as overrides_lib

EXP = 'experiments/rectified_flow/toy2d.py'


def test_experiment_config_validates_and_fills_defaults():
  c = cfg.validate(cfg.load(EXP))
  assert c.model.family == 'rectified_flow'
  assert c.data.name == 'toy2d:moons'
  assert isinstance(c.optim.lr, float)


def test_unknown_key_in_experiment_names_key_and_suggests():
  c = cfg.load(EXP)
  c.optim.lrr = 1e-3
  with pytest.raises(cfg.ConfigError, match=r"config\.optim\.lrr: unknown key\. Did you mean 'lr'\?"):
    cfg.validate(c)


def test_unknown_override_key():
  c = cfg.load(EXP)
  with pytest.raises(cfg.ConfigError, match=r'config\.train\.stepz'):
    overrides_lib.apply(c, {'train.stepz': '10'})


def test_wrong_type_names_key_and_expected_type():
  c = cfg.load(EXP)
  with pytest.raises(TypeError, match='steps'):  # ml_collections itself refuses the assignment
    c.train.steps = 'many'
  with c.train.ignore_type():
    c.train.steps = 'many'
  with pytest.raises(cfg.ConfigError, match=r'config\.train\.steps: expected int'):
    cfg.validate(c)
  c = cfg.load(EXP)
  overrides_lib.apply(c, {'train.batch_size': '3.5'})
  with pytest.raises(cfg.ConfigError, match=r'config\.train\.batch_size: expected int'):
    cfg.validate(c)


def test_invalid_choice_and_range():
  c = overrides_lib.apply(cfg.load(EXP), {'optim.optimizer': 'sgd'})
  with pytest.raises(cfg.ConfigError, match=r"config\.optim\.optimizer='sgd' is not allowed"):
    cfg.validate(c)
  c = overrides_lib.apply(cfg.load(EXP), {'optim.ema_rate': '1.5'})
  with pytest.raises(cfg.ConfigError, match=r'config\.optim\.ema_rate=1\.5 is out of range'):
    cfg.validate(c)


def test_overrides_are_typed_by_the_schema():
  c = cfg.validate(overrides_lib.apply(cfg.load(EXP), {
      'optim.lr': '1e-4', 'train.steps': '7', 'eval.metrics': "('loss',)", 'train.progress': 'false'}))
  assert c.optim.lr == 1e-4 and c.train.steps == 7 and c.eval.metrics == ('loss',)
  assert c.train.progress is False


def test_eval_metrics_must_be_declared_names():
  """Each name of eval.metrics is an evaluator's (`jaxgen.runtime.evaluators`) or the family's
  (rectified flow's straightness); anything else, or a non-string, is one ConfigError."""
  ok = cfg.validate(overrides_lib.apply(cfg.load(EXP), {
      'eval.metrics': "('loss', 'straightness', 'fid', 'precision')"}))
  assert ok.eval.metrics == ('loss', 'straightness', 'fid', 'precision')
  c = overrides_lib.apply(cfg.load(EXP), {'eval.metrics': "('loss', 'sliced_wasserstien')"})
  with pytest.raises(cfg.ConfigError, match=r"^config\.eval\.metrics: unknown metric "
                     r"'sliced_wasserstien'\. Did you mean 'sliced_wasserstein'\? Known: loss, "):
    cfg.validate(c)
  pixelcnn = overrides_lib.apply(cfg.load('experiments/pixelcnn/digits.py'),
                                 {'eval.metrics': "('straightness',)"})
  with pytest.raises(cfg.ConfigError, match="unknown metric 'straightness'"):
    cfg.validate(pixelcnn)   # rectified flow's own metric
  c = overrides_lib.apply(cfg.load(EXP), {'eval.metrics': "('loss', 3)"})
  with pytest.raises(cfg.ConfigError, match=r"config\.eval\.metrics: expected a tuple of str "
                     r"\(like \('loss',\)\), got int 3 at position 1"):
    cfg.validate(c)


def test_importing_the_config_and_the_evaluator_declarations_imports_no_jax():
  import subprocess
  import sys

  from tests.conftest import ROOT
  code = ('import sys; from jaxgen.runtime import config, evaluators, overrides; '
          "print('jax' in sys.modules)")
  out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
  assert out.stdout.strip() == 'False', out.stderr


def test_int_is_accepted_for_float():
  c = overrides_lib.apply(cfg.load(EXP), {'optim.lr': '1'})
  assert cfg.validate(c).optim.lr == 1.0


def test_unknown_variant_lists_variants():
  with pytest.raises(cfg.ConfigError, match=r"unknown variant 'nope'.*smoke"):
    cfg.load(EXP + ':nope')


def test_unknown_family():
  with pytest.raises(ValueError, match=r"config.model.family='nofamily' is not a jaxgen family"):
    cfg.base('nofamily')


def test_a_helper_module_of_the_models_package_is_not_a_family():
  """`conditioning` and `few_step` hold helpers that families share: no build, no defaults."""
  for name in ('conditioning', 'few_step'):
    with pytest.raises(ValueError, match=rf"'{name}' is not a jaxgen family; available: .*nice"):
      cfg.base(name)


def test_split_overrides():
  rest, ov = overrides_lib.split(['--workdir', 'w', '--config.optim.lr=1e-3', '--config.seed', '3'])
  assert rest == ['--workdir', 'w'] and ov == {'optim.lr': '1e-3', 'seed': '3'}


def test_json_round_trip():
  c = cfg.validate(cfg.load(EXP))
  assert cfg.diff(cfg.from_json(cfg.to_json(c)), c) == []


def test_bad_config_writes_nothing(tmp_path, capsys):
  from launch import train as launch_train

  workdir = tmp_path / 'run'
  rc = launch_train.main(['--config', EXP, '--workdir', str(workdir), '--config.optim.lrr=1'])
  assert rc == 2
  assert 'config.optim.lrr' in capsys.readouterr().err
  assert not os.path.exists(workdir)


def test_distillation_needs_pairs_and_no_eval_loss_before_anything_is_written(tmp_path, capsys):
  """loss.time_sampling='distill' learns a given coupling: without data.name=pairs:... there is no
  x0, and the evaluation split (the source run's data) has none either, so 'loss' cannot be in
  eval.metrics. Both are refused by validation, so launch.train writes no workdir."""
  from launch import train as launch_train

  c = overrides_lib.apply(cfg.load(EXP), {'loss.time_sampling': 'distill'})
  with pytest.raises(cfg.ConfigError, match=r"distill.*data\.name='toy2d:moons' has no x0.*"
                                            r"leave 'loss' out of config\.eval\.metrics"):
    cfg.validate(c)
  c = overrides_lib.apply(cfg.load(EXP + ':distill'), {'eval.metrics': "('loss',)"})
  with pytest.raises(cfg.ConfigError, match=r"no evaluation loss") as e:
    cfg.validate(c)
  assert 'has no x0' not in str(e.value)   # the pairs: source is fine
  cfg.validate(cfg.load(EXP + ':distill'))  # the experiment's own variant is consistent
  workdir = tmp_path / 'run'
  assert launch_train.main(['--config', EXP, '--workdir', str(workdir),
                            '--config.loss.time_sampling=distill']) == 2
  assert 'has no x0' in capsys.readouterr().err and not os.path.exists(workdir)


def test_ode_sampling_keys_are_checked_by_validation():
  """sampling.solver / likelihood.solver must name a jaxgen.ode.solvers solver (or alias), a fixed
  grid has >= 1 interval and the ODE starts in [0, 1): checked before any ODE is built."""
  for key, value, msg in [('sampling.solver', 'dopri', r"solver='dopri' is not allowed.*'dopri5'"),
                          ('likelihood.solver', 'rk5', 'not allowed'),
                          ('sampling.steps', '0', r'steps=0 is out of range: must be >= 1'),
                          ('sampling.t_start', '1.0', r't_start=1\.0 is out of range')]:
    with pytest.raises(cfg.ConfigError, match=msg):
      cfg.validate(overrides_lib.apply(cfg.load(EXP), {key: value}))
  cfg.validate(overrides_lib.apply(cfg.load(EXP), {'sampling.solver': 'rk45'}))


def test_validation_starts_no_jax_backend():
  """A multi-process run validates its config before `jax.distributed.initialize`, which must
  come before JAX's backends start: the families' checks (grids built, samplers refused) run
  abstractly."""
  import subprocess
  import sys

  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  code = ('from jax._src import xla_bridge as xb\n'
          'from jaxgen.runtime import config as cfg\n'
          "for e in ('rectified_flow/toy2d', 'score_sde/digits', 'pixelcnn/digits', 'nice/toy2d'):\n"
          "  cfg.validate(cfg.load(f'experiments/{e}.py:smoke'))\n"
          'print(sorted(xb._backends))\n')
  out = subprocess.run([sys.executable, '-c', code], cwd=root, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=root), timeout=120)
  assert out.returncode == 0, out.stderr
  assert out.stdout.strip() == '[]'


@pytest.mark.parametrize('key,value', [('coupling', 'ot'), ('name', 'toy2d:moons')])
def test_a_coupling_is_refused_for_a_family_that_does_not_read_x0(key, value):
  """data.x0 pairs noise with data for rectified flow; a score SDE would ignore it silently."""
  c = cfg.load('experiments/score_sde/toy2d.py')
  overrides_lib.apply(c, {f'data.x0.{key}': value})
  with pytest.raises(cfg.ConfigError, match=rf"config\.data\.x0\.{key}=.*score_sde family does "
                                            "not read"):
    cfg.validate(c)
  r = cfg.load(EXP)
  overrides_lib.apply(r, {f'data.x0.{key}': value, 'eval.metrics': "('loss',)"})
  assert cfg.validate(r).data.x0[key] == value
