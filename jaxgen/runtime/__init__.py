"""The runtime: only this layer (and launch/) touches files and devices.

    config     the schema, variants, overrides and validation
    workdir    config.json, what a resume / an opened run may change, fingerprints, init_from
    lock       one writer per workdir (lock.json);  paths: the one path layer (local or gs://)
    run        the Run record (config, data, model, mesh, train step) and open_run(workdir)
    optim      learning-rate schedule and optimizer;  state: TrainState, the pure step, init
    loop       train(config, workdir): the loop (writer: metrics.jsonl/TensorBoard, progress)
    samples    draw and write sample files;  evaluate + evaluators/: the metrics
    reflow     reflow pairs of a rectified-flow run
    inpaint    inpainting pictures of any family with an 'inpaint' extra;  colorize: the same
               for 'colorize'
    cli        what launch/ shares: flags, overrides, one-line errors;  listing: solver names
    checkpoint (the only Orbax importer: digests, fallback to the newest good step), parallel
               (mesh, sharding, multi-host start), compile_options, viz
"""
