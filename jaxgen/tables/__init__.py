"""Paper tables built from launch commands (above the runtime, below launch/).

    spec     typed rows, columns, scales (training seeds, evaluation keys), claims and plots
    plan     the table as launch commands in dependency order, with done-detection (resumable)
    execute  running those steps, each its own process; a kill is handed on, a failure stops it
    two_stage  the steps of a prior on a VQ-VAE's codes (encode, train on the codes, evaluate)
    cells    each cell as a mean with its 95% interval and unit; paired differences and verdicts
    columns  what a column holds (sample count, reference, likelihood kind); mixed ones refused
    report   Markdown and CSV of the results, the claims and their verdicts
    figure   the table's plot: one curve per row series with 95% error bars and the floor
"""
