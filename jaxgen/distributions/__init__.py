"""Likelihoods of discrete outputs (Bernoulli, categorical, discretized logistic mixtures)."""
