"""Diffusion maths (score-SDE time: t = 0 data, t = T noise): SDEs, score losses, the samplers
(predictor-corrector, DDIM, DPM-Solver, EDM) and one dispatcher over them."""
