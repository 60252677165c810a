"""Paper tables built from launch commands (above the runtime, below launch/).

    spec    typed rows, columns, scales, claims and plots of a table (experiments/tables/ use it)
    plan    the table as launch commands in dependency order, with done-detection (resumable)
    report  Markdown, CSV and plot of the results, claims and their verdicts
"""
