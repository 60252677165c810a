"""The runtime: config schema, runs and workdirs, the training loop, checkpoints, devices, evaluation
driver, compile options and pictures. Only this layer (and launch/) touches files and devices."""
