"""Generative families; each module builds a `jaxgen.models.base.Model` (see base.py)."""
