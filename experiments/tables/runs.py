"""The runs the tables share, by scale: one key is one workdir ``<runs>/<scale>/<key>``, so two
tables that name a key train it once. A key names the family and the variant (``score_sde_vp``,
``rectified_flow_2rf``); the data is the scale's: digits at ``smoke`` and ``laptop``, CIFAR-10
(or the papers' sets) at ``paper``, so no folder names another data set than the one it holds;
the Fashion-MNIST runs of the cross-family table say ``fashion``. Not a table (no ``get_table``).

* ``smoke``: the experiments' ``smoke`` variants (a few steps, stand-in data where the real set is
  missing): they exercise every step of a table in the test suite, their numbers mean nothing.
* ``laptop``: scikit-learn's 8x8 digits with the experiments' own settings, and Fashion-MNIST.
* ``paper``: the papers' CIFAR-10 configs (accelerator scale).
"""

from jaxgen.tables.spec import RunSpec

SDE = 'experiments/score_sde/digits.py'
RF = 'experiments/rectified_flow/digits.py'
NICE = 'experiments/nice/digits.py'
PIXELCNN = 'experiments/pixelcnn/digits.py'
RF_PAIRS = 5_000    # reflow pairs per k-RF on digits (Euler 100 steps of the source flow)


def _digits(suffix: str = '') -> dict:
  """Every digits run, with `suffix` (``',smoke'``) appended to each config's variants."""
  def v(path, variant=''):
    variants = ','.join(x for x in (variant, suffix.lstrip(',')) if x)
    return path + (':' + variants if variants else '')
  n_pairs = RF_PAIRS if not suffix else 64
  return {
      'score_sde_vp': RunSpec(v(SDE)),
      'score_sde_ve': RunSpec(v(SDE, 've')),
      'score_sde_subvp': RunSpec(v(SDE, 'subvp')),
      'score_sde_vp_lw': RunSpec(v(SDE, 'lw')),
      'score_sde_subvp_lw': RunSpec(v(SDE, 'subvp,lw')),
      'score_sde_vp_lwis': RunSpec(v(SDE, 'lwis')),
      'score_sde_subvp_lwis': RunSpec(v(SDE, 'subvp,lwis')),
      'score_sde_vp_deq': RunSpec(v(SDE, 'deq')),
      'score_sde_subvp_deq': RunSpec(v(SDE, 'subvp,deq')),
      'score_sde_vp_deq_lw': RunSpec(v(SDE, 'deq,lw')),
      'score_sde_vp_deq_lwis': RunSpec(v(SDE, 'deq,lwis')),
      'rectified_flow': RunSpec(v(RF)),
      'rectified_flow_2rf': RunSpec(v(RF, 'reflow'), pairs_from='rectified_flow',
                                           num_pairs=n_pairs),
      'rectified_flow_3rf': RunSpec(v(RF, 'reflow3'),
                                           pairs_from='rectified_flow_2rf',
                                           num_pairs=n_pairs),
      'rectified_flow_2rf_distill': RunSpec(v(RF, 'distill'),
                                                   pairs_from='rectified_flow_2rf',
                                                   num_pairs=n_pairs),
      'nice': RunSpec(v(NICE)),
      'pixelcnn': RunSpec(v(PIXELCNN, 'pixelcnn')),
      'gated_pixelcnn': RunSpec(v(PIXELCNN)),
      'pixelcnn_pp': RunSpec(v(PIXELCNN, 'pp')),
      # PixelCNN++ overfits the digits within 400 steps: the same run, checked every 50 steps
      'pixelcnn_pp_fine': RunSpec(v(PIXELCNN, 'pp'), {'train.steps': 1000,
                                                      'train.checkpoint_every': 50}),
  }


FASHION_STEPS = 600  # laptop: every Fashion-MNIST run is this many steps (a short, equal budget)
# laptop: launch.train_deq's flags for the cnf's post-hoc dequantizer (q's steps, its batch and the
# fixed-step solve each step differentiates).
CNF_DEQ = {'steps': 200, 'batch_size': 32, 'solver': 'euler', 'solver_steps': 2}


def _fashion(suffix: str = '') -> dict:
  """The Fashion-MNIST runs of the cross-family likelihood table (`suffix` as `_digits`); at
  laptop scale each trains `FASHION_STEPS` steps (the experiment's batch, lr and net)."""
  def v(path, variant=''):
    variants = ','.join(x for x in (variant, suffix.lstrip(',')) if x)
    return path + (':' + variants if variants else '')
  short = {} if suffix else {'train.steps': FASHION_STEPS}
  # The U-Net runs' own end-of-run picture and evaluation, kept cheap (the table measures them):
  # 100 PC steps for the score SDEs' 64 samples, no ODE likelihood at the end of rectified flow.
  sde = {} if suffix else {'sampling.steps': 100}
  rf = {} if suffix else {'eval.metrics': ('loss',)}
  pcnn = 'experiments/pixelcnn/fashion_8bit.py'
  flow = 'experiments/coupling_flow/fashion_mnist.py'
  # The coupling flows at half the experiment's coupling-net width (32 channels): six runs per
  # seed, so the laptop table stays within its time.
  narrow = {} if suffix else {**short, 'model.hidden': 32}
  # The cnf: no ODE likelihood at the end of training (the table measures it), then Flow++'s q
  # trained post hoc with the model frozen (launch.train_deq) for its variational row.
  deq = ({'steps': 2, 'batch_size': 8, 'solver': 'euler', 'solver_steps': 1, 'couplings': 1,
          'hidden': 8} if suffix else CNF_DEQ)
  return {
      'nice_fashion': RunSpec(v('experiments/nice/fashion_mnist.py'), short),
      'pixelcnn_fashion': RunSpec(v(pcnn, 'pixelcnn'), short),
      'gated_pixelcnn_fashion': RunSpec(v(pcnn, 'gated'), short),
      'pixelcnn_pp_fashion': RunSpec(v(pcnn, 'pp'), short),
      'score_sde_fashion_vp': RunSpec(v('experiments/score_sde/fashion_mnist.py'), {**short, **sde}),
      'score_sde_fashion_subvp': RunSpec(v('experiments/score_sde/fashion_mnist.py'),
                                         {**short, **sde, 'model.sde': 'subvpsde'}),
      'rectified_flow_fashion': RunSpec(v('experiments/rectified_flow/fashion_mnist.py'),
                                        {**short, **rf}),
      'realnvp_fashion': RunSpec(v(flow, 'realnvp'), narrow),
      'realnvp_fashion_vdeq': RunSpec(v(flow, 'realnvp,vdeq'), narrow),
      'glow_additive_fashion': RunSpec(v(flow, 'glow_additive'), narrow),
      'glow_additive_fashion_vdeq': RunSpec(v(flow, 'glow_additive,vdeq'), narrow),
      'glow_fashion': RunSpec(v(flow), narrow),
      'glow_fashion_vdeq': RunSpec(v(flow, 'vdeq'), narrow),
      'cnf_fashion': RunSpec(v('experiments/cnf/fashion_mnist.py'), {**short, **rf}, deq=deq),
  }


SMOKE = {**_digits(',smoke'), **_fashion(',smoke')}
LAPTOP = {**_digits(), **_fashion()}
