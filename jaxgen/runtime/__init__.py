"""One run: its settings, its trained model, its training loop and its evaluation.

    config           the schema, variants and validation of a run's settings
    overrides        ``--config.a.b=v`` flags applied to a config
    workdir          config.json, what a resume / an opened run may change, fingerprints
    run              the Run record (config, data, model, mesh, params, step, keys) and open_run
    optim            the optimizer and its learning-rate schedule, built once
    state            TrainState, the pure train step, the Trainer (used only by training)
    loop             train(config, workdir): the training loop
    writer           metrics.jsonl (and its reader), TensorBoard, the progress line
    prefetch         the host prepares the next batch while the devices run this one
    parallel         the ('data', 'fsdp') mesh, batch sharding, multi-host start
    sharding         FSDP: where each array of the training state lives on the mesh
    compile_options  XLA settings (fast compilation for small runs)
    samples          draw and write sample files, named by their settings
    viz              sample grids and plots
    evaluate         the evaluation of a run and its provenance
    validation       the validation metric at each checkpoint during training, the best step
    evaluators/      one module per kind of metric, each declaring its names and needs;
                     classifier_asset: the pinned evaluation classifiers
    cli              what launch/ shares: flags, overrides, one-line errors
"""
