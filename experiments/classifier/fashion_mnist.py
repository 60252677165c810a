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
score guided samples; nf 16, no dropout, 1200 steps with 100 warm-up, evaluated on 2048 test
images: the pinned evaluation asset jaxgen/assets/classifier_fashion_mnist.npz of the ``fd`` /
``is`` / ``kid`` / ``class_accuracy`` metrics, `jaxgen.runtime.classifier_asset`).

The ``clean`` variant (measured, seed 0, EMA parameters; 2-core CPU shared with ~7 jobs, load
~15-20): 38,410 parameters, 16 minutes wall for 1200 steps (~1 step/s while another training
shared the cores, ~2.5 steps/s alone); eval/accuracy 0.863 and eval/loss 0.359 on 2048 test
images, 0.8593 on all 10,000 (the asset's test_accuracy, `launch.export_classifier`).

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
    # The pinned evaluation asset (jaxgen/assets/classifier_fashion_mnist.npz): smaller and
    # shorter so it trains on the laptop CPU; no noise input.
    c.model.noise = 'none'
    c.model.classifier.nf = 16
    c.model.classifier.dropout = 0.0
    c.optim.warmup_steps = 100
    c.train.steps = 1200
    c.train.checkpoint_every = 600
    c.eval.num_batches = 8

  return cfg.select(config, arg, smoke=smoke, clean=clean)
