"""Test-session set-up: 8 virtual CPU devices and fast compilation.

XLA_FLAGS must be set before JAX initialises its backends, so this runs at import time of the
test session. `jax_disable_most_optimizations` trades run time for compile time, which dominates
the small shapes used in tests.
"""

import os

os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                           ' --xla_force_host_platform_device_count=8').strip()
os.environ.setdefault('JAX_PLATFORMS', 'cpu')

import jax  # noqa: E402

jax.config.update('jax_disable_most_optimizations', True)


def pytest_configure(config):
  config.addinivalue_line('markers', 'slow: long-running check; run with `-m slow`')
