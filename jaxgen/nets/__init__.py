"""Flax networks; none of them knows which loss trains it."""
