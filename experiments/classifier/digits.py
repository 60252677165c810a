"""A noise-conditional VP classifier p_t(y | x(t)) on scikit-learn's 8x8 digits, to guide
experiments/score_sde/digits.py (Song et al. 2021, Sec. 5: classifier guidance).

    python -m launch.train --config experiments/classifier/digits.py --workdir runs/clf_digits
    python -m launch.sample --workdir runs/sde_digits --config.sampling.classifier=runs/clf_digits \
        --config.sampling.classifier_scale=1 --config.sampling.label=3    # (after the merge)

Data and noise exactly as the score run's: 1500 train / 297 test images of 17 levels scaled to
[-1, 1] (data.scale='symmetric'), no dequantization; VP SDE beta 0.1 -> 20, t ~ U(1e-5, 1), the
network sees t * 999 (the score family's label). Model (`jaxgen.nets.classifier`): a small
Wide-ResNet-style conv net, nf 16, ch_mult (1, 2, 2) (8/4/2), 1 DDPM res block per resolution,
positional time embedding, dropout 0.1, global mean pool, Dense(10); 51,930 parameters. Loss:
cross-entropy of the label from x_t. Adam 1e-3 with 100 warm-up steps, grad clip 1, EMA 0.995,
batch 64, 1500 steps.
Evaluation: eval/loss and eval/accuracy (t = 1e-5, i.e. clean), eval/accuracy_t0.25 / _t0.5 /
_t0.75 on the 297 test images.

Variants: ``smoke`` (nf 8, 4 steps), ``clean`` (model.noise='none': a clean-data classifier, e.g.
to score guided samples; exported as the pinned evaluation asset
jaxgen/assets/classifier_digits.npz of the ``fd`` / ``is`` / ``kid`` / ``class_accuracy`` metrics
with ``python -m launch.export_classifier --workdir RUN --out jaxgen/assets/classifier_digits.npz``).

Runtime (2-core CPU shared with ~7 other jobs, load average ~14; measured): 6.5 minutes wall for
the whole run, of which ~3.4 minutes compiling the train step, then 13-30 steps/s, and the
final evaluation.
Expected result (measured, seed 0, EMA parameters, 297 test images): eval/accuracy (t = 1e-5,
clean) 0.946, eval/accuracy_t0.25 0.754, eval/accuracy_t0.5 0.249, eval/accuracy_t0.75 0.111
(chance is 0.1: at t = 0.75 the VP signal alpha = 0.06 is buried); eval/loss 1.60 nats (the
cross-entropy averaged over t ~ U(0, 1), where most times are nearly pure noise: log 10 = 2.30 is
chance); train loss 1.54, train accuracy 0.43 (noise-averaged too). The ``clean`` variant
(38,410 parameters, 8 minutes wall on the same busy machine; re-measured 2026-12-02: 4 minutes,
identical figures): eval/accuracy 0.960 (0.9596), eval/loss 0.253.

Guidance (measured): experiments/score_sde/digits.py trained as documented (eval/loss 0.078),
64 PC samples (300 steps + Langevin, NFE 601) with sampling.label=-1 (sample i asks for class
i mod 10), guided by this run through `jaxgen.tools.classifier_run.write_samples`, then classified by
the ``clean`` run: the clean classifier agrees with the asked class for 0.078 of the unguided
samples (chance), 0.844 at classifier_scale 1 and 0.984 at scale 3 (3-4 minutes per 64 samples
incl. compilation). At scale 1 the grid shows readable digits in the asked order.
"""

from experiments import common
from jaxgen.runtime import config as cfg


def get_config(arg=None):
  config = cfg.base('classifier')
  config.seed = 0
  config.data.name = 'digits'
  config.data.scale = 'symmetric'
  config.data.dequantize = False
  config.model.noise = 'vpsde'
  config.model.beta_min, config.model.beta_max = 0.1, 20.0
  n = config.model.classifier
  n.nf, n.ch_mult, n.num_res_blocks, n.dropout = 16, (1, 2, 2), 1, 0.1
  config.loss.eps = 1e-5
  config.optim.lr = 1e-3
  config.optim.warmup_steps = 100
  config.optim.grad_clip = 1.0
  config.optim.ema_rate = 0.995
  config.train.steps = 1500
  config.train.batch_size = 64
  config.train.log_every = 100
  config.train.checkpoint_every = 500
  config.eval.metrics = ('loss', 'accuracy')
  config.eval.batch_size = 297
  config.eval.num_samples = 0

  def smoke(c):
    common.smoke(c, steps=4, batch_size=16, eval_batch_size=16, num_samples=0, every=2)
    c.model.classifier.nf = 8
    c.model.classifier.num_res_blocks = 1

  def clean(c):
    c.model.noise = 'none'

  return cfg.select(config, arg, smoke=smoke, clean=clean)
