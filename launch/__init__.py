"""Command-line entry points, each a thin layer over `jaxgen.runtime`: python -m launch.train |
sample | evaluate | reflow | inpaint | colorize | solvers."""
