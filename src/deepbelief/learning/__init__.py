"""Learning rules: objectives that write gradients for one mini-batch (CD-k and PCD for
RBMs, up-down for generative DBNs, supervised losses for backpropagation)."""
