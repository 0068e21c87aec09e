"""Training: the one mini-batch loop, its schedules and callbacks, checkpoints, greedy
layer-wise stacking, and the fit plan that runs an estimator's phases."""
