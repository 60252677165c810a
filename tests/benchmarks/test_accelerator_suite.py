"""benchmarks/accelerator_suite: JSON / Markdown, failure isolation, --tiny (the peak table and
the MFU arithmetic it uses: tests/runtime/test_throughput.py).

The fast tests run the suite's logic in-process (and one short driver run whose sections fail,
time out and skip on purpose); the full ``--tiny`` run of every section on the CPU takes minutes
on the shared 2-core machine (mostly XLA compiling the U-Net steps), so it is marked slow.
"""

import json
import math
import os
import subprocess
import sys

import pytest

from benchmarks import accelerator_suite as suite
from jaxgen.runtime import throughput

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ------------------------------------------------------------------------------ report format


def _figure(**kw):
  fig = dict(section='ddpmpp_bf16', name='jaxgen DDPM++ cont. train step',
             device_kind='NVIDIA H200', platform='gpu', jax='0.11.2', dtype='bfloat16',
             batch=128, command='bash benchmarks/accelerator_suite.sh --sections ddpmpp_bf16',
             result='2000 img/s')
  fig.update(throughput.mfu(10e12, 15.6, 'NVIDIA H200', 'bfloat16'))
  fig.update(kw)
  return fig


def test_markdown_rows_for_figures_and_failed_sections():
  args = suite.parse_args(['--sections', 'ddpmpp_bf16'])
  report = suite.new_report(args, ['--sections', 'ddpmpp_bf16'])
  report['env'] = dict(device_kind='NVIDIA H200', platform='gpu', jax='0.11.2')
  report['wall_s'] = 100.0
  report['sections'] = [
      dict(name='ddpmpp_bf16', title='t', status='ok', wall_s=80, timeout_s=150, command='c',
           figures=[_figure()], notes=['a note'], error=None),
      dict(name='likelihood', title='PF-ODE', status='timeout', wall_s=150, timeout_s=150,
           command='c', figures=[], notes=[], error='no result | within'),
  ]
  md = suite.markdown(report)
  rows = [l for l in md.splitlines() if l.startswith('| ')]
  assert rows[0].startswith('| section | benchmark | device | dtype | batch | result | MFU |')
  assert len(rows) == 3
  assert '| 2000 img/s | 15.8% of 989.4 TFLOP/s (bf16 dense' in rows[1]
  assert 'TIMEOUT: no result \\| within' in rows[2] and rows[2].endswith('| timeout |')
  assert '* ddpmpp_bf16: a note' in md
  assert 'not performance' not in md
  report['tiny'] = True
  assert 'not performance figures' in suite.markdown(report)


def test_parse_timeouts():
  assert suite.parse_timeouts('') == {}
  assert suite.parse_timeouts('30') == {'*': 30.0}
  assert suite.parse_timeouts('matmul=1.5,nice=20') == {'matmul': 1.5, 'nice': 20.0}
  with pytest.raises(SystemExit):
    suite.parse_timeouts('nosuch=3')


def test_matmul_section_in_process_records_the_figure_fields(tmp_path):
  args = suite.parse_args(['--tiny'])
  em = suite.Emitter(str(tmp_path / 'r.json'), 'matmul', args)
  suite.section_matmul(em, args)
  data = json.loads((tmp_path / 'r.json').read_text())
  assert [f['dtype'] for f in data['figures']] == ['bfloat16', 'float32']
  for fig in data['figures']:
    assert set(suite.FIGURE_FIELDS) <= set(fig)
    assert fig['device_kind'] and fig['jax'] and fig['achieved_flops'] > 0
    assert fig['command'] == 'JAX_PLATFORMS=cpu bash benchmarks/accelerator_suite.sh --sections matmul --tiny'
    assert fig['mfu'] is None   # the CPU has no peak in the table


def test_dit_section_in_process_records_a_train_step_figure(tmp_path):
  """--tiny on the CPU: the SiT (DiT) train step with XLA's attention gives one figure with its
  images/s and XLA's FLOPs per step, no MFU (no CPU peak), and a note that cuDNN was not run."""
  args = suite.parse_args(['--tiny'])
  em = suite.Emitter(str(tmp_path / 'r.json'), 'dit', args)
  suite.section_dit(em, args)
  data = json.loads((tmp_path / 'r.json').read_text())
  (fig,) = data['figures']
  assert set(suite.FIGURE_FIELDS) <= set(fig)
  assert fig['attn_impl'] == 'xla' and fig['dtype'] == 'bfloat16' and fig['batch'] == 4
  assert fig['images_per_s'] > 0 and fig['flops_per_step'] > 0 and fig['mfu'] is None
  assert math.isfinite(fig['loss']) and fig['experiment'].startswith(suite.DIT_EXPERIMENT)
  assert any('cuDNN' in n for n in data['notes'])


def _check_report(report, md_text, names):
  assert report['schema'] == suite.SCHEMA
  assert [s['name'] for s in report['sections']] == names
  for sec in report['sections']:
    assert set(suite.SECTION_FIELDS) <= set(sec)
    assert sec['status'] in suite.STATUSES
    for fig in sec['figures']:
      assert set(suite.FIGURE_FIELDS) <= set(fig), fig
  assert report['env']['device_kind'] and report['env']['jax']
  rows = [l for l in md_text.splitlines() if l.startswith('| ') and not l.startswith('| section')]
  n_rows = sum(len(s['figures']) + (s['status'] != 'ok') for s in report['sections']
               if not (s['name'] == 'env' and s['status'] == 'ok'))
  assert len(rows) == n_rows
  return {s['name']: s for s in report['sections']}


def _clean_env():
  env = dict(os.environ)
  env['JAX_PLATFORMS'] = 'cpu'
  # one CPU device in the sections (the test session forces 8 virtual ones)
  env['XLA_FLAGS'] = env.get('XLA_FLAGS', '').replace(
      '--xla_force_host_platform_device_count=8', '').strip()
  env['PYTHON'] = sys.executable
  return env


def test_a_failing_a_hanging_and_a_skipped_section_do_not_stop_the_suite(tmp_path, monkeypatch):
  for k, v in _clean_env().items():
    if k in ('JAX_PLATFORMS', 'XLA_FLAGS'):
      monkeypatch.setenv(k, v)
  argv = ['--tiny', '--out', str(tmp_path), '--sections', 'matmul,diffusers,ddpm_peer',
          '--timeout', 'matmul=0.5', '--torch-python', str(tmp_path / 'no-such-python')]
  report = suite.run_suite(suite.parse_args(argv), argv)
  saved = json.loads((tmp_path / 'accelerator_suite.json').read_text())
  md = (tmp_path / 'accelerator_suite.md').read_text()
  secs = _check_report(saved, md, ['env', 'matmul', 'diffusers', 'ddpm_peer'])
  assert saved['sections'] == json.loads(json.dumps(report['sections']))
  assert secs['env']['status'] == 'ok'
  assert secs['matmul']['status'] == 'timeout' and secs['matmul']['timeout_s'] == 0.5
  assert secs['diffusers']['status'] == 'failed' and 'no-such-python' in secs['diffusers']['error']
  assert secs['ddpm_peer']['status'] == 'skipped'
  assert '| matmul | matmul ceiling |' in md and 'TIMEOUT' in md
  assert not [p for p in os.listdir(tmp_path) if p.startswith('.section_')]


@pytest.mark.slow
def test_tiny_suite_on_cpu_end_to_end(tmp_path):
  """`bash benchmarks/accelerator_suite.sh --tiny` on the CPU: every section, JSON + Markdown."""
  out = subprocess.run(['bash', os.path.join(ROOT, 'benchmarks', 'accelerator_suite.sh'),
                        '--tiny', '--out', str(tmp_path)], cwd=ROOT, env=_clean_env(),
                       capture_output=True, text=True, timeout=900)
  assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
  report = json.loads((tmp_path / 'accelerator_suite.json').read_text())
  md = (tmp_path / 'accelerator_suite.md').read_text()
  secs = _check_report(report, md, list(suite.SECTIONS))
  assert report['tiny'] and report['command'].startswith(
      'JAX_PLATFORMS=cpu bash benchmarks/accelerator_suite.sh --tiny --out ')
  for name in ('env', 'matmul', 'ddpmpp_fp32', 'ddpmpp_bf16', 'dit', 'pixelcnn', 'nice',
               'likelihood'):
    assert secs[name]['status'] == 'ok', secs[name]
  assert secs['diffusers']['status'] in ('ok', 'skipped')   # torch may not be installed
  for dtype, sec in (('float32', 'ddpmpp_fp32'), ('bfloat16', 'ddpmpp_bf16'),
                     ('bfloat16', 'dit')):
    (fig,) = secs[sec]['figures']
    assert fig['dtype'] == dtype and fig['batch'] == 4
    assert fig['images_per_s'] > 0 and fig['flops_per_step'] > 0
    assert fig['mfu'] is None and fig['note'].startswith('MFU omitted')
    assert math.isfinite(fig['loss'])
  lik = secs['likelihood']['figures']
  assert len(lik) == 2 and abs(lik[0]['bpd'] - lik[1]['bpd']) < 0.05
  assert secs['pixelcnn']['figures'][0]['identical_samples'] is True
  assert secs['nice']['figures'][0]['epoch_60k_s'] > 0
  assert 'not performance figures' in md
