"""One run: its settings, its trained state, its training loop and its evaluation.

    config           the schema, variants and validation;  overrides: ``--config.a.b=v``
    workdir          config.json, what a resume / an opened run may change, fingerprints
    run              the Run record (config, data, model, mesh, params, step, keys), open_run
    optim            optimizer and its schedule;  state: TrainState, the pure step, Trainer
    loop             train(config, workdir): the loop;  writer: metrics.jsonl, TensorBoard
    prefetch         the host prepares the next batch while the devices run this one
    parallel         mesh, sharding, multi-host start;  compile_options: XLA settings
    samples          draw and write sample files;  viz: sample grids and plots
    evaluate         the evaluation of a run;  evaluators/: one module per kind of metric
    cli              what launch/ shares: flags, overrides, one-line errors
"""
