"""The import rules of DESIGN.md's layers, checked on the source (every import, also inside
functions): the maths layers never import a network, a family or the runtime; families never
import the runtime; the store imports no other layer; tools and tables sit above the runtime;
`launch/` imports only the store, runtime, tools and tables; experiment files only the config
module, the network presets, the table spec and their own package."""

import ast
import os

import pytest

from tests.conftest import ROOT

# Each jaxgen sub-package and what it may import besides itself.
BELOW_RUNTIME = {'store', 'models', 'diffusion', 'ode', 'metrics', 'distributions', 'nets', 'data'}
ALLOWED = {
    'tables': {'runtime'} | BELOW_RUNTIME,
    'tools': {'runtime'} | BELOW_RUNTIME,
    'runtime': BELOW_RUNTIME,
    'models': {'diffusion', 'ode', 'metrics', 'distributions', 'nets'},
    'diffusion': {'ode', 'metrics', 'distributions'},
    'ode': {'metrics'},
    'metrics': set(),
    'distributions': set(),
    'nets': {'distributions'},
    'data': {'distributions', 'store'},
    'store': set(),  # the files of a workdir: below everything that touches files
    'assets': set(),  # data files only (the pinned evaluation classifiers), no code
}


def _imports(path):
  """(line, dotted module) of every import in a file, relative imports resolved."""
  tree = ast.parse(open(path).read(), path)
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      for a in node.names:
        yield node.lineno, a.name
    elif isinstance(node, ast.ImportFrom) and node.module:
      yield node.lineno, node.module
      for a in node.names:  # `from jaxgen import runtime` names a package too
        yield node.lineno, f'{node.module}.{a.name}'


def _files(folder):
  for d, _, names in os.walk(os.path.join(ROOT, folder)):
    for n in sorted(names):
      if n.endswith('.py'):
        yield os.path.join(d, n)


def _layer(module):
  parts = module.split('.')
  return parts[1] if parts[0] == 'jaxgen' and len(parts) > 1 else None


def test_every_jaxgen_subpackage_has_a_rule():
  pkgs = {n for n in os.listdir(os.path.join(ROOT, 'jaxgen'))
          if os.path.isdir(os.path.join(ROOT, 'jaxgen', n)) and n != '__pycache__'}
  assert pkgs == set(ALLOWED)
  loose = [n for n in os.listdir(os.path.join(ROOT, 'jaxgen'))
           if n.endswith('.py') and n != '__init__.py']
  assert not loose, f'modules outside the layers: {loose}'


@pytest.mark.parametrize('layer', sorted(ALLOWED))
def test_layer_imports_only_the_layers_below(layer):
  bad = []
  for path in _files(os.path.join('jaxgen', layer)):
    for line, mod in _imports(path):
      target = _layer(mod)
      if target and target != layer and target not in ALLOWED[layer] and target in ALLOWED:
        bad.append(f'{os.path.relpath(path, ROOT)}:{line} imports {mod}')
  assert not bad, '\n'.join(bad)


def test_launch_imports_only_store_runtime_tools_and_tables():
  bad = [f'{os.path.relpath(p, ROOT)}:{line} imports {mod}'
         for p in _files('launch') for line, mod in _imports(p)
         if mod.startswith('jaxgen.') and _layer(mod) in ALLOWED
         and _layer(mod) not in ('store', 'runtime', 'tools', 'tables')]
  assert not bad, '\n'.join(bad)


# Self-contained experiment scripts under experiments/tables/ (no table spec, no runs).
SCRIPTS = ('pc_exact_score.py',)


def test_experiments_import_only_the_config_module_and_net_presets():
  """Experiment files: the config module and net presets; table files (experiments/tables/)
  also the table spec; the scripts of `SCRIPTS` also the maths layers (diffusion, metrics)."""
  def allowed(path, mod):
    own = ('jaxgen.runtime.config', 'jaxgen.nets')
    if os.path.basename(os.path.dirname(path)) == 'tables':
      own += ('jaxgen.tables.spec',)
    if os.path.basename(path) in SCRIPTS:  # computes with the maths layers directly
      own += ('jaxgen.diffusion', 'jaxgen.metrics')
    return mod.startswith(own) or mod in ('jaxgen', 'jaxgen.runtime')

  bad = [f'{os.path.relpath(p, ROOT)}:{line} imports {mod}'
         for p in _files('experiments') for line, mod in _imports(p)
         if mod.startswith('jaxgen') and not allowed(p, mod)]
  assert not bad, '\n'.join(bad)


def test_no_test_module_imports_another():
  """Shared test helpers live in modules not named test_*, so one test file never runs another's
  tests by importing it."""
  bad = [f'{os.path.relpath(p, ROOT)}:{line} imports {mod}'
         for p in _files('tests') for line, mod in _imports(p)
         if mod.startswith('tests.') and mod.split('.')[-1].startswith('test_')]
  assert not bad, '\n'.join(bad)
