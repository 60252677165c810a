"""Every command in the README's ```bash blocks runs as printed, at smoke size, in order, in a
temporary folder (so `runs/` lands there): exit status 0, no traceback.

The rewrite rules that make the README's commands fit the suite (each stated, none silent):
  1. `bash launch/quickstart.sh` runs setup.sh (network) and then trains the default experiment:
     it becomes that training command with `:smoke` (the test checks quickstart.sh still holds
     it); setup.sh itself is tested in tests/launch/test_setup.py.
  2. `bash launch/test.sh` runs the launcher of the checkout on one small test file
     (`-n 0 tests/test_layers.py` appended: pytest arguments pass through test.sh).
  3. `launch.train --config FILE[:VARIANTS]` gains `smoke` as its last variant.
  4. `--num N` with N > 64 becomes `--num 64`.
  5. `launch.table ... --scale S` becomes `--scale smoke --dry-run` (tests/experiments/
     test_tables.py builds every table at smoke scale).
`python` is this test's interpreter (what `source .venv/bin/activate` gives: its folder leads
PATH), `.venv` and `experiments/` are the checkout's (links in the temporary folder), and
PYTHONPATH holds the checkout, as running from its root does.
"""

import os
import re
import subprocess
import sys

from tests.conftest import ROOT

QUICKSTART_TRAIN = 'launch.train --config experiments/rectified_flow/toy2d.py --workdir "$WORKDIR"'


def readme_commands() -> list[str]:
  """The commands of the README's ```bash blocks: comments dropped, continuation lines joined."""
  with open(os.path.join(ROOT, 'README.md')) as f:
    blocks = re.findall(r'```bash\n(.*?)```', f.read(), re.S)
  commands = []
  for block in blocks:
    for line in block.replace('\\\n', ' ').splitlines():
      line = re.sub(r'\s+#.*$', '', line).strip()
      if line and not line.startswith('#'):
        commands.append(line)
  return commands


def smoke(command: str) -> str:
  """The README `command` under the rewrite rules of this module's docstring."""
  if command == 'bash launch/quickstart.sh':
    return 'python -m ' + QUICKSTART_TRAIN.replace('toy2d.py', 'toy2d.py:smoke').replace(
        '"$WORKDIR"', 'runs/rf_moons')
  if command.startswith('bash launch/test.sh'):
    return f'bash {ROOT}/launch/test.sh -n 0 tests/test_layers.py'
  if 'launch.train' in command:
    command = re.sub(r'(--config \S+?\.py)(:(\S+))?(?=\s)',
                     lambda m: f'{m.group(1)}:{m.group(3) + "," if m.group(3) else ""}smoke',
                     command + ' ').strip()
  command = re.sub(r'--num (\d+)', lambda m: f'--num {min(int(m.group(1)), 64)}', command)
  if 'launch.table' in command:
    command = re.sub(r'--scale \S+', '--scale smoke --dry-run', command)
  return command


def test_rewrite_rules():
  assert smoke('python -m launch.train --config a/b.py --workdir w') == (
      'python -m launch.train --config a/b.py:smoke --workdir w')
  assert smoke('python -m launch.train --config a/b.py:x,y --workdir w') == (
      'python -m launch.train --config a/b.py:x,y,smoke --workdir w')
  assert smoke('python -m launch.reflow --workdir w --num 20000 --x') == (
      'python -m launch.reflow --workdir w --num 64 --x')
  assert smoke('python -m launch.table t.py --scale laptop') == (
      'python -m launch.table t.py --scale smoke --dry-run')
  with open(os.path.join(ROOT, 'launch', 'quickstart.sh')) as f:
    quickstart = f.read()
  assert QUICKSTART_TRAIN in quickstart and 'WORKDIR=${WORKDIR:-runs/rf_moons}' in quickstart


def test_readme_is_short_and_names_every_verb():
  with open(os.path.join(ROOT, 'README.md')) as f:
    assert len(f.read().splitlines()) <= 160
  verbs = {m for c in readme_commands() for m in re.findall(r'python -m launch\.(\w+)', c)}
  assert {'train', 'sample', 'evaluate', 'reflow', 'inpaint', 'table', 'solvers'} <= verbs


def test_readme_commands_run_as_printed(tmp_path):
  for name in ('experiments', '.venv'):
    os.symlink(os.path.join(ROOT, name), tmp_path / name)
  env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS='cpu',
             PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ['PATH'])
  commands = readme_commands()
  assert commands[:2] == ['bash launch/quickstart.sh', 'bash launch/test.sh']
  for command in commands:
    p = subprocess.run(['bash', '-c', smoke(command)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=900)
    out = p.stdout[-2000:] + p.stderr[-3000:]
    assert p.returncode == 0 and 'Traceback' not in p.stderr, f'{command}\n{smoke(command)}\n{out}'
