"""The papers' numbers the tables compare with, each table of numbers with its source.

A `Reference` holds one paper table's values (keyed as the table files key their rows), the
metric and protocol they measure, and where they are printed (`Source`: the paper, its table or
section, and links: arXiv abstract pages, the reference repository). ``unverified`` lists the
keys not yet checked against the paper itself.
"""

from __future__ import annotations

import dataclasses
from typing import Hashable, Mapping


@dataclasses.dataclass(frozen=True)
class Source:
  paper: str  # authors, year, title
  where: str  # the table / section / file holding the numbers
  urls: tuple[str, ...] = ()  # where to read it


@dataclasses.dataclass(frozen=True)
class Reference:
  source: Source
  metric: str  # what the values measure, with the paper's protocol
  values: Mapping[Hashable, float]
  unverified: frozenset = frozenset()


SCORE_SDE = 'Song, Sohl-Dickstein, Kingma, Kumar, Ermon, Poole 2021, "Score-based generative ' \
            'modeling through stochastic differential equations" (ICLR)'
SCORE_SDE_URL = ('https://arxiv.org/abs/2011.13456',)

# (sde, predictor, kind): kind 'P' = predictor-only P1000, 'PC' = PC1000, 'C' = corrector-only
# C2000.
SCORE_SDE_TABLE1 = Reference(
    Source(SCORE_SDE, 'Table 1', SCORE_SDE_URL),
    'FID, CIFAR-10, 50k samples; discrete SMLD (VE) and DDPM (VP) models, N = 1000',
    {('ve', 'ancestral', 'P'): 4.98, ('vp', 'ancestral', 'P'): 3.24,
     ('ve', 'reverse_diffusion', 'P'): 4.79, ('vp', 'reverse_diffusion', 'P'): 3.21,
     ('ve', 'probability_flow', 'P'): 15.41, ('vp', 'probability_flow', 'P'): 3.59,
     ('ve', 'reverse_diffusion', 'PC'): 3.60, ('vp', 'reverse_diffusion', 'PC'): 3.18,
     ('ve', 'corrector', 'C'): 20.43, ('vp', 'corrector', 'C'): 19.06})

# (model, sde) -> bits/dim; the FID column of the same table is SCORE_SDE_TABLE2_FID.
SCORE_SDE_TABLE2_BPD = Reference(
    Source(SCORE_SDE, 'Table 2', SCORE_SDE_URL),
    'NLL, bits/dim on the CIFAR-10 test set (uniform dequantization), probability-flow ODE',
    {('DDPM cont.', 'vp'): 3.21, ('DDPM cont.', 'subvp'): 3.05,
     ('DDPM++ cont.', 'vp'): 3.16, ('DDPM++ cont.', 'subvp'): 3.02,
     ('DDPM++ cont. deep', 'vp'): 3.13, ('DDPM++ cont. deep', 'subvp'): 2.99})
SCORE_SDE_TABLE2_FID = Reference(
    Source(SCORE_SDE, 'Table 2', SCORE_SDE_URL),
    'FID, CIFAR-10, 50k samples of the probability-flow ODE',
    {('DDPM cont.', 'vp'): 3.69, ('DDPM cont.', 'subvp'): 3.56,
     ('DDPM++ cont.', 'vp'): 3.93, ('DDPM++ cont.', 'subvp'): 3.16,
     ('DDPM++ cont. deep', 'vp'): 3.08, ('DDPM++ cont. deep', 'subvp'): 2.92})

SCORE_SDE_TABLE3_FID = Reference(
    Source(SCORE_SDE, 'Table 3', SCORE_SDE_URL), 'FID, CIFAR-10, 50k samples',
    {'DDPM++ cont. (VP)': 2.55, 'DDPM++ cont. deep (VP)': 2.41, 'NCSN++ cont. (VE)': 2.38,
     'NCSN++ cont. deep (VE)': 2.20})
SCORE_SDE_TABLE3_IS = Reference(
    Source(SCORE_SDE, 'Table 3', SCORE_SDE_URL), 'Inception score, CIFAR-10, 50k samples',
    {'DDPM++ cont. (VP)': 9.58, 'DDPM++ cont. deep (VP)': 9.68, 'NCSN++ cont. (VE)': 9.83,
     'NCSN++ cont. deep (VE)': 9.89})

# (model, sampler): sampler 'dopri5' = the paper's RK45 (NFE 127 for 1-RF), 'euler1' = one Euler
# step, ('2-RF distilled', 'euler1') etc. = distilled to one step.
RECTIFIED_FLOW_CIFAR10 = Reference(
    Source('Liu, Gong, Liu 2023, "Flow straight and fast: learning to generate and transfer data '
           'with rectified flow" (ICLR)', 'the CIFAR-10 results table; the RK45 and distilled '
           'figures also in the README of gnobitab/RectifiedFlow',
           ('https://arxiv.org/abs/2209.03003', 'https://github.com/gnobitab/RectifiedFlow')),
    'FID, CIFAR-10, 50k samples',
    {('1-RF', 'dopri5'): 2.58, ('2-RF', 'dopri5'): 3.36, ('3-RF', 'dopri5'): 3.96,
     ('1-RF', 'euler1'): 378.0, ('2-RF', 'euler1'): 12.21, ('3-RF', 'euler1'): 8.15,
     ('1-RF distilled', 'euler1'): 6.18, ('2-RF distilled', 'euler1'): 4.85,
     ('3-RF distilled', 'euler1'): 5.21})
RECTIFIED_FLOW_CIFAR10_RK45_OTHER = Reference(
    RECTIFIED_FLOW_CIFAR10.source,
    '1-RF with RK45 on CIFAR-10: NFE, Inception score, recall',
    {'nfe': 127.0, 'is': 9.60, 'recall': 0.57})

# steps -> FID at eta = 0
DDIM_ETA0 = Reference(
    Source('Song, Meng, Ermon 2021, "Denoising diffusion implicit models" (ICLR)',
           'the CIFAR-10 FID by number of steps, eta = 0 (experiments/tables/ddim_steps.py cites '
           'it as Table 1)', ('https://arxiv.org/abs/2010.02502',)),
    'FID, CIFAR-10, 50k samples of one DDPM-trained model, eta = 0',
    {10: 13.36, 20: 6.84, 50: 4.67, 100: 4.16, 1000: 4.04},
    unverified=frozenset({10}))

NICE_LOG_LIKELIHOOD = Reference(
    Source('Dinh, Krueger, Bengio 2014, "NICE: non-linear independent components estimation"',
           'the log-likelihood results (test set, nats per image)',
           ('https://arxiv.org/abs/1410.8516',)),
    'log-likelihood, nats per image on the test set (data dequantized to [0, 1], 256 levels); '
    'MNIST in bits/dim: 8 - 1980.50 / (784 ln 2) = 4.36',
    {'MNIST': 1980.50, 'TFD': 5514.71, 'SVHN': 11496.55, 'CIFAR-10': 5371.78})

# model -> bits/dim on CIFAR-10 test
PIXELCNN_FAMILY_CIFAR10 = Reference(
    Source('van den Oord, Kalchbrenner, Kavukcuoglu 2016, "Pixel recurrent neural networks" '
           '(PixelCNN); van den Oord et al. 2016, "Conditional image generation with PixelCNN '
           'decoders" (Gated PixelCNN); Salimans, Karpathy, Chen, Kingma 2017, "PixelCNN++"',
           "each paper's CIFAR-10 results table",
           ('https://arxiv.org/abs/1601.06759', 'https://arxiv.org/abs/1606.05328',
            'https://arxiv.org/abs/1701.05517')),
    'NLL, bits/dim on the CIFAR-10 test set (exact discrete likelihood)',
    {'PixelCNN': 3.14, 'Gated PixelCNN': 3.03, 'PixelCNN++': 2.92})
PIXELCNN_BINARIZED_MNIST = Reference(
    PIXELCNN_FAMILY_CIFAR10.source,
    'NLL, nats per image on binarized MNIST (Pixel RNN paper)',
    {'PixelCNN': 81.30, 'Diagonal BiLSTM': 79.20})

FASHION_MNIST_GLOW_NOTEBOOK = Reference(
    Source('a public Glow notebook on Fashion-MNIST (no standard likelihood benchmark exists)',
           "the notebook's reported train / test bits/dim (no link recorded)"),
    'bits/dim, Fashion-MNIST 28x28, discrete',
    {'train': 3.10, 'test': 3.14})

# Likelihood training (Song, Durkan, Murray, Ermon 2021) and other CIFAR-10 bits/dim.
CIFAR10_BPD = Reference(
    Source('Song, Durkan, Murray, Ermon 2021, "Maximum likelihood training of score-based '
           'diffusion models" (NeurIPS); VDM (google-research/vdm README); RealNVP, Glow, FFJORD, '
           "Flow++: their papers' tables", 'as listed per key',
           ('https://arxiv.org/abs/2101.09258', 'https://github.com/google-research/vdm',
            'https://arxiv.org/abs/1605.08803 (RealNVP, Table 1)',
            'https://arxiv.org/abs/1807.03039 (Glow, Table 2)')),
    'NLL, bits/dim on the CIFAR-10 test set (experiments/coupling_flow/cifar10.py: RealNVP, Glow)',
    {'ScoreFlow deep sub-VP (variational dequantization, importance sampling)': 2.83,
     'VDM': 2.65, 'RealNVP': 3.49, 'Glow': 3.35, 'FFJORD': 3.40, 'Flow++': 3.08},
    unverified=frozenset({'ScoreFlow deep sub-VP (variational dequantization, importance '
                          'sampling)', 'RealNVP', 'Glow', 'FFJORD', 'Flow++'}))

# (hidden layers, masks) -> nats per image; 'NADE' is the table's NADE row (1 hidden layer, fixed
# order). One hidden layer: 88.40 with one mask, 88.04 with 32 masks; 86.64 is the two-layer
# 32-mask figure (an earlier entry here gave it to one layer, and REFERENCES.md calls 88.04 the
# one-mask figure). Recalled from the paper's Table 6: the search tools did not surface its text,
# hence all unverified.
MADE_BINARIZED_MNIST = Reference(
    Source('Germain, Gregor, Murray, Larochelle 2015, "MADE: masked autoencoder for distribution '
           'estimation" (ICML)', 'Table 6 (binarized MNIST)',
           ('https://arxiv.org/abs/1502.03509',)),
    'NLL, nats per image on the binarized MNIST test set (Salakhutdinov & Murray 2008 '
    'binarization); masks > 1: order-agnostic training, probabilities averaged over the masks',
    {('1 hidden layer', '1 mask'): 88.40, ('1 hidden layer', '32 masks'): 88.04,
     ('2 hidden layers', '1 mask'): 89.59, ('2 hidden layers', '32 masks'): 86.64,
     'NADE': 88.33},
    unverified=frozenset({('1 hidden layer', '1 mask'), ('1 hidden layer', '32 masks'),
                          ('2 hidden layers', '1 mask'), ('2 hidden layers', '32 masks'),
                          'NADE'}))

VQVAE_CIFAR10 = Reference(
    Source('van den Oord, Vinyals, Kavukcuoglu 2017, "Neural discrete representation learning" '
           '(NeurIPS)', 'Sec. 4.1 (comparison with continuous variables)',
           ('https://arxiv.org/abs/1711.00937',)),
    'bits/dim on CIFAR-10, a bound on the NLL (the paper: "all reported likelihoods are lower '
    'bounds"), 250,000 steps at batch 128; K and the latent count are not printed; VAE: a '
    'continuous latent, VIMCO: independent Gaussian or categorical priors',
    {'VQ-VAE': 4.67, 'VAE': 4.51, 'VIMCO': 5.14})

# steps (NFE) -> FID. Geng, Deng, Bai, Kolter, He 2025. The abstract states 3.43 at 1 NFE on
# ImageNet 256x256 (MF-XL/2, from scratch); 2.92 is the paper's unconditional CIFAR-10 1-NFE
# result (U-Net), not ImageNet, as benchmark listings give it: not yet checked in the paper's
# table, hence unverified, as is the 2-NFE ImageNet figure.
MEANFLOW = 'Geng, Deng, Bai, Kolter, He 2025, "Mean flows for one-step generative modeling"'
MEANFLOW_URL = ('https://arxiv.org/abs/2505.13447',)
MEANFLOW_CIFAR10 = Reference(
    Source(MEANFLOW, 'the unconditional CIFAR-10 comparison table (1-NFE)', MEANFLOW_URL),
    'FID, CIFAR-10 32x32, unconditional, 50k samples, one network evaluation',
    {1: 2.92}, unverified=frozenset({1}))
MEANFLOW_IMAGENET256 = Reference(
    Source(MEANFLOW, 'abstract (1-NFE); the ImageNet 256x256 system-level table (2-NFE)',
           MEANFLOW_URL),
    'FID, ImageNet 256x256, class-conditional (guidance folded into training), 50k samples; '
    'MF-XL/2 trained from scratch',
    {1: 3.43, 2: 2.20}, unverified=frozenset({2}))
# Shortcut models (Frans, Hafner, Levine, Abbeel 2024, https://arxiv.org/abs/2410.12557) report
# FID on CelebA-HQ 256 and ImageNet 256 only (no CIFAR-10); their table is not entered here.

# Consistency models. steps (NFE) -> FID. The iCT abstract states 2.51 (one step) and 2.24 (two)
# on CIFAR-10: its best, the deeper iCT-deep; iCT's own row (2.83 / 2.46) is from its CIFAR-10
# table, not yet checked there, hence unverified. CD's 3.55 (Song et al. 2023, LPIPS) is the CM
# abstract's one-step CIFAR-10 state of the art (its distillation result).
ICT = 'Song, Dhariwal 2023, "Improved techniques for training consistency models" (ICLR 2024)'
ICT_URL = ('https://arxiv.org/abs/2310.14189',)
ICT_CIFAR10 = Reference(
    Source(ICT, 'abstract (iCT-deep); the CIFAR-10 table (iCT)', ICT_URL),
    'FID, CIFAR-10 32x32, unconditional, 50k samples; consistency training from data (no '
    'teacher), pseudo-Huber loss',
    {('iCT', 1): 2.83, ('iCT', 2): 2.46, ('iCT-deep', 1): 2.51, ('iCT-deep', 2): 2.24},
    unverified=frozenset({('iCT', 1), ('iCT', 2)}))
CD_CIFAR10 = Reference(
    Source('Song, Dhariwal, Chen, Sutskever 2023, "Consistency models" (ICML)',
           'the CIFAR-10 table (CD with the LPIPS metric)', ('https://arxiv.org/abs/2303.01469',)),
    'FID, CIFAR-10 32x32, unconditional, 50k samples; consistency distillation of an EDM '
    'teacher, LPIPS metric, one step',
    {1: 3.55})

# The flows' CIFAR-10 bits/dim (the Fashion-MNIST likelihood table's paper column), one Reference
# per paper. Checked with the search tool: RealNVP 3.49, Glow 3.35 and FFJORD 3.40 are the values
# Song et al. 2021 (Score SDE, Table 2) reprint from these papers; Flow++ 3.08 is its variational
# dequantization model (the same table reprints Flow++ as 3.29, its uniformly dequantized
# ablation). The papers' own tables were not opened, hence unverified.
FLOWS_CIFAR10 = {
    'RealNVP': Reference(
        Source('Dinh, Sohl-Dickstein, Bengio 2017, "Density estimation using Real NVP" (ICLR)',
               'Table 1 (CIFAR-10 row)', ('https://arxiv.org/abs/1605.08803',)),
        'NLL, bits/dim on the CIFAR-10 test set; multi-scale affine coupling, uniform '
        'dequantization, logit preprocessing', {'RealNVP': 3.49}, frozenset({'RealNVP'})),
    'Glow': Reference(
        Source('Kingma, Dhariwal 2018, "Glow: generative flow with invertible 1x1 convolutions" '
               '(NeurIPS)', 'Table 2 (best results, CIFAR-10)',
               ('https://arxiv.org/abs/1807.03039',)),
        'NLL, bits/dim on the CIFAR-10 test set; affine coupling, LU 1x1 convolutions, 3 levels '
        'x 32 steps, uniform dequantization', {'Glow': 3.35}, frozenset({'Glow'})),
    'FFJORD': Reference(
        Source('Grathwohl, Chen, Bettencourt, Sutskever, Duvenaud 2019, "FFJORD: free-form '
               'continuous dynamics for scalable reversible generative models" (ICLR)',
               'Table 2 (image density estimation, CIFAR10)',
               ('https://arxiv.org/abs/1810.01367',)),
        'NLL, bits/dim on the CIFAR-10 test set; multi-scale CNF, Hutchinson estimator, '
        'uniform dequantization', {'FFJORD': 3.40}, frozenset({'FFJORD'})),
    'Flow++': Reference(
        Source('Ho, Chen, Srinivas, Duan, Abbeel 2019, "Flow++: improving flow-based generative '
               'models with variational dequantization and architecture design" (ICML)',
               'Table 1 (unconditional CIFAR10)', ('https://arxiv.org/abs/1902.00275',)),
        'NLL, bits/dim on the CIFAR-10 test set; variational dequantization (a bound), '
        'logistic-mixture couplings with self-attention', {'Flow++': 3.08}, frozenset({'Flow++'})),
}

# Minibatch OT flow matching. The 3.5 is not in the paper's tables: it is the torchcfm README's
# CIFAR-10 result (examples/images/cifar10/README.md: "reach an FID of 3.5"; compute_fid.py with
# --integration_method dopri5 on the 400k-step weights; train_cifar10.py --model otcfm --lr 2e-4
# --ema_decay 0.9999 --batch_size 128 --total_steps 400001). The paper's own CIFAR-10 table is not
# checked here.
OT_CFM_CIFAR10 = Reference(
    Source('Tong, Fatras, Malkin, Huguet, Zhang, Rector-Brooks, Wolf, Bengio 2023, "Improving and '
           'generalizing flow-based generative models with minibatch optimal transport" (TMLR '
           '2024); the authors\' torchcfm repository', 'the CIFAR-10 README of '
           'atong01/conditional-flow-matching (examples/images/cifar10/README.md)',
           ('https://arxiv.org/abs/2302.00482',
            'https://github.com/atong01/conditional-flow-matching')),
    'FID, CIFAR-10 32x32, unconditional; OT-CFM sampled with dopri5 (adaptive NFE), 400k steps '
    'at batch 128', {'dopri5': 3.5})

# Continuous-time consistency models. steps (NFE) -> FID. The abstract states 2.06 on CIFAR-10
# with two sampling steps (the consistency-training model, sCT); the one-step figure is in the
# paper's CIFAR-10 table, not checked here, hence not entered.
SCT_CIFAR10 = Reference(
    Source('Lu, Song 2024, "Simplifying, stabilizing and scaling continuous-time consistency '
           'models" (ICLR 2025)', 'abstract (CIFAR-10, two steps)',
           ('https://arxiv.org/abs/2410.11081',)),
    'FID, CIFAR-10 32x32, unconditional, 50k samples; sCT (TrigFlow, continuous-time '
    'consistency training), two network evaluations', {2: 2.06})
