"""Metric modules of `jaxgen.runtime.evaluate`.

Each module defines ``NAMES`` (the metric names of ``config.eval.metrics`` it computes) and a class
``Evaluator`` whose ``__init__`` takes, by keyword, exactly the inputs it needs among those the
driver builds once from a Run (see `jaxgen.runtime.evaluate.inputs`), and whose
``run(params, rng) -> dict`` returns floats named ``eval/<metric>``. An evaluator compiles its own
functions once (its own jit cache) and never sees the Run or the trainer.
"""
