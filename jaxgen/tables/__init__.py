"""Paper tables built from launch commands (above the runtime, below launch/).

    spec     typed rows, columns, scales (training seeds, evaluation keys), claims and plots
    plan     the table as launch commands in dependency order, with done-detection (resumable)
    cells    each cell as a mean with its 95% interval and unit; paired differences and verdicts
    columns  what a column holds (sample count, reference, likelihood kind); mixed ones refused
    report   Markdown, CSV and plot of the results, the claims and their verdicts
"""
