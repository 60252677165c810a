"""benchmarks/trainer_overhead compares like with like: after the same steps the bare loop
reaches the parameters and the EMA of `loop.train` (so it does the gradient, the optimizer, the
EMA and the data of the trainer; a bare loop without the EMA would be caught: the EMA is far
from the parameters), and its summary is the median ratio with its spread."""

import numpy as np

from benchmarks import trainer_overhead as bench


def test_the_bare_loop_reaches_the_trainers_parameters_and_ema():
  config = bench.config_of(*bench.QUICK)
  (params, ema), (bare_params, bare_ema) = bench.same_maths(config)
  assert bench.max_difference(params, bare_params) < 1e-5
  assert bench.max_difference(ema, bare_ema) < 1e-5
  # The EMA is not the parameters (nor their start): skipping it cannot pass the check above.
  assert bench.max_difference(ema, bare_params) > 1e-3
  assert bench.max_difference(ema, bench.Bare(config).start()[1]) > 1e-3


def test_summary_gives_the_median_ratio_its_quartiles_and_an_interval_of_the_median():
  ratios = [1.10, 0.95, 1.02, 1.40, 1.01, 0.99, 1.05]
  s = bench.summary(ratios)
  assert s['median'] == 1.02
  assert s['iqr'] == [float(np.percentile(ratios, 25)), float(np.percentile(ratios, 75))]
  assert min(ratios) <= s['median_95'][0] <= s['median'] <= s['median_95'][1] <= max(ratios)
  assert bench.summary(ratios) == s   # seeded
