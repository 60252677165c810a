"""Output distributions: likelihoods of discrete outputs (Bernoulli, categorical, discretized logistic
mixtures), the isotropic normal prior and Gaussian mixtures with closed-form scores."""
