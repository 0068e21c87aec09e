"""Fashion-MNIST classification record: the MNIST record's protocol on Fashion-MNIST.

The same 784-500-500-2000 DBN, recipe (``DBNClassifier.from_preset("fashion-mnist")``),
wall-time budget, validation split and random-initialisation baseline as
``benchmarks/mnist_classification.py`` (whose options this script takes), on the 60,000
Fashion-MNIST training images, scored on its 10,000 test images. No DBN result is
published for the data set; the best permutation-invariant figures listed for it are
0.898 (gradient boosting) and 0.897 (SVC).

    python benchmarks/fashion_classification.py [--quick] [--budget-minutes 60]
        [--threads 2] [--skip-random] [...the options of mnist_classification.py]
"""

from __future__ import annotations

import sys

from mnist_classification import main

if __name__ == "__main__":
    sys.argv[1:1] = ["--dataset", "fashion"]  # a --dataset given on the command line wins
    raise SystemExit(main())
