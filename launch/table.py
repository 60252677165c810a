"""Build a paper table: train the runs it needs (resuming unfinished ones), evaluate every row,
write Markdown, CSV and a plot with our numbers beside the paper's.

    python -m launch.table experiments/tables/<name>.py --scale smoke|laptop|paper \
        [--runs runs/tables] [--out DIR] [--dry-run] [--report-only]

Runs live in RUNS/<scale>/<key>/seed<s>, one per training seed of the scale (shared by every
table that names the key), row results in RUNS/<scale>/tables/<name>/<row>/seed<s>.json (one
result per evaluation key inside); the report goes to OUT (default RUNS/<scale>/) as
<name>_<scale>.md, .csv and .png; a table of sample metrics ends with the real-data floor at its
rows' sample count (``launch.evaluate --real-data``). Each step is one launch command (printed before it runs); a
killed build rerun with the same command resumes. --dry-run prints the steps (done or to run)
and runs none; --report-only rewrites the report from the rows evaluated so far.
``--scale paper`` runs the papers' CIFAR-10 configs only where an accelerator is present (and
the data and the Inception weights, which its steps name): on a CPU-only machine it prints what
it would run and exits 0. A bad table file, scale or weights file is one ``error:`` line, exit
2, nothing written (checked before JAX is imported), as is a column whose rows draw different
sample counts (refused by the plan, or by the report for rows evaluated earlier); a step that
fails stops the build with its exit status. SIGTERM / SIGINT are handed to the running step, which stops as launch.train does on
preemption (its checkpoint saved, its workdir unlocked); the build then exits with 128 + signal.
"""

from __future__ import annotations

import argparse
import sys
import time


RUNS = 'runs/tables'


def _parser():
  p = argparse.ArgumentParser(prog='python -m launch.table', description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('table', help='experiments/tables/<name>.py')
  p.add_argument('--scale', required=True, choices=('smoke', 'laptop', 'paper'))
  p.add_argument('--runs', default=RUNS, help='root of the runs and row results')
  p.add_argument('--out', default='', help='report folder (default RUNS/<scale>)')
  p.add_argument('--inception-weights', default='',
                 help='FID Inception .npz for rows with fid / inception_score (paper scale)')
  p.add_argument('--fid-stats', default='', help='reference statistics (launch.fid_stats) for fid')
  p.add_argument('--dry-run', action='store_true', help='print the steps, run none')
  p.add_argument('--report-only', action='store_true',
                 help='write the report from the rows evaluated so far')
  return p


def load_table(path: str):
  from jaxgen.runtime import config as cfg
  from jaxgen.tables import spec as table_spec

  module = cfg.load_module(path, 'get_table', 'table file', 'experiments/tables/ddim_steps.py')
  try:
    table = module.get_table()
  except cfg.ConfigError:
    raise
  except Exception as e:  # noqa: BLE001  (a mistake in the table file: name it)
    raise cfg.ConfigError(f'{path}: {type(e).__name__}: {e} (fix the table file)') from None
  if not isinstance(table, table_spec.Table):
    raise cfg.ConfigError(f'{path}: get_table() returned {type(table).__name__}, not a '
                          'jaxgen.tables.spec.Table')
  return table


def _read_inputs(args) -> None:
  """The table (its file read) after checking the Inception files; nothing heavy imported."""
  import os

  from jaxgen.runtime import config as cfg
  from jaxgen.runtime import evaluators

  if args.inception_weights:
    evaluators.check_inception_weights(args.inception_weights, '--inception-weights')
  if args.fid_stats and not os.path.isfile(args.fid_stats):
    raise cfg.ConfigError(f'--fid-stats={args.fid_stats}: no such file (write it with python -m '
                          'launch.fid_stats)')
  return load_table(args.table)


def main(argv=None) -> int:
  import os
  import shlex

  argv = sys.argv[1:] if argv is None else argv
  args = _parser().parse_args(argv)
  from jaxgen.runtime import config as cfg
  try:
    table = _read_inputs(args)
  except cfg.ConfigError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  from jaxgen.runtime import cli
  try:
    from jaxgen.tables import plan as table_plan
    inception = {k: v for k, v in (('eval.inception_weights', args.inception_weights),
                                   ('eval.fid_stats', args.fid_stats)) if v}
    steps = table_plan.plan(table, args.scale, args.runs, inception)
  except cli.USER_ERRORS as e:
    return cli.error(e)
  needs = [s.name for s in steps if s.inception]
  # the build command (what regenerates the rows), whatever report flags this call has; the runs
  # folder is this machine's, not part of what a reader reruns
  command = f'python -m launch.table {shlex.quote(args.table)} --scale {args.scale}'
  out = args.out or os.path.join(args.runs, args.scale)
  if args.scale == 'paper' and not (args.dry_run or args.report_only):
    import jax
    if jax.default_backend() == 'cpu':
      print(f'table {table.name}: --scale paper needs an accelerator (this machine has only a '
            'CPU); it would run:')
      args.dry_run = True
  if needs and not args.inception_weights and not args.report_only:
    if not args.dry_run:
      return cli.error(f'rows {needs[:2]}... measure fid / inception_score: give --inception-weights '
                       'FILE.npz (pytorch-fid\'s FID Inception converted by '
                       'tools/convert_inception_weights.py) and --fid-stats (launch.fid_stats)')
    print('(these rows need --inception-weights FILE.npz and --fid-stats FILE.npz: '
          'tools/convert_inception_weights.py, python -m launch.fid_stats)')
  if args.dry_run:
    for s in steps:
      print(f'{"done" if s.done else "todo"}  {s.kind:8s} {s.command()}')
    return 0
  t0 = time.perf_counter()
  if not args.report_only:
    from jaxgen.tables import execute as table_execute
    rc = table_execute.execute(steps)
    if rc:
      return rc
  from jaxgen.tables import report as table_report
  try:
    written = table_report.write(table, args.scale, args.runs, out, command,
                                 None if args.report_only else time.perf_counter() - t0)
  except cli.USER_ERRORS as e:   # a column of two sample counts (or two likelihood units)
    return cli.error(e)
  print(open(written[0]).read())
  print('Wrote ' + ', '.join(written))
  return 0


if __name__ == '__main__':
  sys.exit(main())
