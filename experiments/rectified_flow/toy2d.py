"""1-Rectified flow on a 2-D toy density (the default experiment), then reflow and distillation.

    python -m launch.train --config experiments/rectified_flow/toy2d.py --workdir runs/rf_moons

Variants (``file.py:variant``): ``smoke`` (tiny, for tests), ``checkerboard``, ``8gaussians``,
``swissroll``, ``gmm`` (a mixture with a closed-form density, so ``eval/nll`` can be compared with
the true entropy, 3.038 nats: after 3000 steps we measured eval/nll = 3.097 nats on 2048 test
points through the ODE with dopri5 at rtol = atol = 1e-5, NFE 259), ``logit_normal`` (SD3's lognorm(0, 1) time sampling instead of uniform),
``reflow``, ``reflow3`` and ``distill`` (below).

Runtime (2-core CPU, jax 0.12): about 1 minute: 4000 steps at batch 256 at ~120 steps/s on an
idle CPU (measured median 124 steps/s) plus ~20 s of compilation, evaluation and sampling.
Expected result: samples/step_4000.png shows the two moons next to the data (Euler, 100 steps);
eval/sliced_wasserstein ~0.11 (measured: 0.106), i.e. at the noise floor of the metric: two
independent 1024-point draws of the data itself score 0.12 (median of 5).
Model: score_mlp (3 residual blocks of width 256, ~0.4M parameters), velocity target x1 - x0,
t ~ U(1e-3, 1) (the reference code's), network label t * 999, Adam 1e-3, EMA 0.999.

Reflow (2-RF, 3-RF) and distillation (Liu, Gong, Liu 2022), after the 1-RF command above:

    python -m launch.reflow --workdir runs/rf_moons --num 20000 --config.sampling.solver=dopri5
    python -m launch.train --config experiments/rectified_flow/toy2d.py:reflow --workdir runs/rf_moons_2rf
    python -m launch.reflow --workdir runs/rf_moons_2rf --num 20000 --config.sampling.solver=dopri5
    python -m launch.train --config experiments/rectified_flow/toy2d.py:distill --workdir runs/rf_moons_2rf_distill
    python -m launch.train --config experiments/rectified_flow/toy2d.py:reflow3 --workdir runs/rf_moons_3rf

The variants come from `experiments.common.reflow_variants`: each reads one key, the source run
``train.init_from`` (``reflow``: runs/rf_<density>, ``reflow3`` and ``distill``: its _2rf run),
and trains on that run's pairs (``data.name=pairs:<init_from>/reflow/pairs``, the folder
launch.reflow writes; x0 = z0, x = z1 = ODE(z0)) from its EMA weights, with the 1-RF recipe
otherwise. A source elsewhere: ``--config.train.init_from=/abs/run`` moves both. ``distill``
trains v(0, z0) = z1 - z0 (``loss.time_sampling='distill'``, one Euler step,
``sampling.steps=1``) on the 2-RF pairs from 2-RF's weights ("2-RF + distill").
``toy2d.py:checkerboard,reflow`` reads runs/rf_checkerboard. The reference code makes its pairs
with RK45 (= dopri5), at least 1M for CIFAR-10; we used 20000 pairs here (any --num works: 50000
would take ~2 min at the rate below; the pairs are written in shards of --shard 5000, resumable).

Measured (ours; this 2-core CPU shared with another job running benchmarks, load ~3-4): 1-RF
58 s; pairs from 1-RF 42 s (dopri5 rtol = atol = 1e-5, NFE 235-271 per chunk of 5000); 2-RF
64 s; pairs from 2-RF 14 s (dopri5 NFE 85-91: the straighter flow needs ~3x fewer evaluations);
distill 51 s. Expected result: straightness S on the 100-step Euler grid (eval/straightness,
1024 samples, ||.||^2 summed over the 2 dims) drops from 1.25 (1-RF) to 0.0005 (2-RF).
eval/sliced_wasserstein (1024 samples vs the 1-RF run's eval data; Euler):

    steps          1       2       4       100
    1-RF         1.328   0.652   0.311   0.102
    2-RF         0.104   0.105   0.107   0.110
    2-RF+distill 0.109 (1 step)

i.e. 2-RF and its distillation sample in one step at the metric's noise floor (0.12, above);
with 4096 samples: 1-RF at 100 steps 0.033, 2-RF at 1 step 0.040, distilled 0.041 (two
independent 4096-point draws of the data: 0.059, median of 5). SW at k steps:
``python -m launch.evaluate --workdir RUN --config.sampling.steps=k``.
Paper (CIFAR-10 FID, one Euler step; the paper's numbers): 1-RF 378, 2-RF 12.21, 2-RF + distill
4.85; with RK45, 1-RF 2.58 at NFE 127.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('rectified_flow')
  config.seed = 0
  config.data.name = 'toy2d:moons'
  config.data.scale = 'none'
  config.data.eval_size = 4096
  config.model.net = 'score_mlp'
  config.model.score_mlp.width = 256
  config.model.score_mlp.num_layers = 3
  config.optim.lr = 1e-3
  config.optim.warmup_steps = 100
  config.optim.ema_rate = 0.999
  config.train.steps = 4000
  config.train.batch_size = 256
  config.train.log_every = 200
  config.train.checkpoint_every = 1000
  config.eval.metrics = ('loss', 'sliced_wasserstein', 'straightness')
  config.eval.batch_size = 1024
  config.eval.num_samples = 1024
  config.sampling.solver = 'euler'
  config.sampling.steps = 100
  config.sampling.num_samples = 1024

  def smoke(c):
    common.smoke(c, steps=20, batch_size=32, eval_batch_size=256, num_samples=64, every=10)
    c.model.score_mlp.width = 32
    c.model.score_mlp.num_layers = 1
    c.sampling.steps = 4

  def data(name):
    return lambda c: setattr(c.data, 'name', 'toy2d:' + name)

  def gmm(c):
    c.data.name = 'toy2d:gmm'
    c.eval.metrics = ('loss', 'sliced_wasserstein', 'nll')
    c.sampling.solver = 'dopri5'

  def logit_normal(c):
    c.loss.time_sampling = 'logit_normal'

  def root(c):
    """The 1-RF workdir of this density: runs/rf_moons, runs/rf_checkerboard, ..."""
    return 'runs/rf_' + c.data.name.split(':', 1)[1]

  reflow = common.reflow_variants(root, metrics=('sliced_wasserstein', 'straightness'))

  return cfg.select(config, arg, smoke=smoke, checkerboard=data('checkerboard'),
                    swissroll=data('swissroll'), gmm=gmm, logit_normal=logit_normal,
                    **reflow, **{'8gaussians': data('8gaussians')})
