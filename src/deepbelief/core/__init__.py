"""The mathematics of the models: unit types, the RBM, stack passes, the generative stack
and the unrolled network. No training happens here, and nothing here imports a layer above."""
