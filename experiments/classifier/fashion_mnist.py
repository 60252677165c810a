"""A noise-conditional VP classifier p_t(y | x(t)) on Fashion-MNIST (28x28), to guide
experiments/score_sde/fashion_mnist.py (Song et al. 2021, Sec. 5: classifier guidance).

    python -m launch.train --config experiments/classifier/fashion_mnist.py \
        --workdir runs/clf_fashion
    python -m launch.sample --workdir runs/sde_fashion \
        --config.sampling.classifier=runs/clf_fashion --config.sampling.classifier_scale=1 \
        --config.sampling.label=-1   # (the sampling keys arrive with the merge)

Data and noise exactly as the score run's: the IDX files of Debian's `dataset-fashion-mnist` (60k
train / 10k test) scaled to [-1, 1] (data.scale='symmetric'), no dequantization; VP SDE beta
0.1 -> 20, t ~ U(1e-5, 1), the network sees t * 999 (the score family's label). Model
(`jaxgen.nets.classifier`): a small Wide-ResNet-style conv net, nf 32, ch_mult (1, 2, 2)
(28/14/7), 1 DDPM res block per resolution, positional time embedding, dropout 0.1, global mean
pool, Dense(10). Adam 1e-3 with 200 warm-up steps, grad clip 1, EMA 0.995, batch 64, 3000 steps.
Evaluation: eval/loss, eval/accuracy (t = 1e-5, i.e. clean) and eval/accuracy_t0.25 / _t0.5 /
_t0.75 on 1024 test images (4 batches of 256).

Variants: ``smoke`` (nf 8, 4 steps), ``clean`` (model.noise='none': a clean-data classifier to
score guided samples).

Runtime and expected result: NOT measured yet (only the smoke ran here). From the digits
classifier's cost per image and the 28x28 resolution, expect roughly 30-60 minutes on the 2-core
CPU; expected clean accuracy in the high 80s % (small CNNs reach ~90% on Fashion-MNIST), falling
with t towards chance (10%) at t = 1.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('classifier')
  config.seed = 0
  config.data.name = 'fashion_mnist'
  config.data.scale = 'symmetric'
  config.data.dequantize = False
  config.model.noise = 'vpsde'
  config.model.beta_min, config.model.beta_max = 0.1, 20.0
  n = config.model.classifier
  n.nf, n.ch_mult, n.num_res_blocks, n.dropout = 32, (1, 2, 2), 1, 0.1
  config.loss.eps = 1e-5
  config.optim.lr = 1e-3
  config.optim.warmup_steps = 200
  config.optim.grad_clip = 1.0
  config.optim.ema_rate = 0.995
  config.train.steps = 3000
  config.train.batch_size = 64
  config.train.log_every = 100
  config.train.checkpoint_every = 1000
  config.eval.metrics = ('loss', 'accuracy')
  config.eval.batch_size = 256
  config.eval.num_batches = 4
  config.eval.num_samples = 0

  def smoke(c):
    common.smoke(c, steps=4, batch_size=16, eval_batch_size=16, num_samples=0, every=2)
    c.model.classifier.nf = 8

  def clean(c):
    c.model.noise = 'none'

  return cfg.select(config, arg, smoke=smoke, clean=clean)
