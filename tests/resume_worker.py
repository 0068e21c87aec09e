"""A training process for the SIGKILL test of ``test_resume.py`` (not a test module).

``python tests/resume_worker.py CHECKPOINT PAUSE [KIND]`` fits :data:`PARAMS` (a
``DBNClassifier``), or with ``KIND`` ``GenerativeDBN`` :data:`GENERATIVE`, on :func:`data`
with a checkpoint after every epoch and ``resume=True``: the same command starts the run
and continues it after a kill. Each epoch also sleeps ``PAUSE`` seconds (a callback, which
changes nothing in the model), so the run lasts long enough to be killed mid-way without
using much CPU.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from deepbelief import DBNClassifier, GenerativeDBN
from deepbelief.datasets import load_digits

#: Every source of randomness: PCD chains, dropout, the validation split, shuffling.
PARAMS = {
    "hidden_layer_sizes": (24, 12), "hidden_units": "bernoulli", "pretrain_epochs": 4,
    "pretrain_method": "pcd",
    "pretrain_learning_rate": 0.05, "max_iter": 16, "solver": "adam",
    "learning_rate_init": 0.01, "dropout": 0.1, "early_stopping": True,
    "validation_fraction": 0.2, "n_iter_no_change": 50, "batch_size": 32,
    "device": "cpu", "random_state": 3,
}

#: A generative DBN with labels and up-down (persistent chains), so a kill can land in
#: any of its phases: the lower stack, the top RBM, up-down.
GENERATIVE = {
    "hidden_layer_sizes": (24, 32), "pretrain_epochs": 4, "pretrain_method": ("cd", "pcd"),
    "updown_epochs": 12, "updown_k": (1, 2), "updown_batch_size": 40, "batch_size": 32,
    "device": "cpu", "random_state": 3,
}


def data() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits()
    return X[:240], y[:240]


def main(path: str, pause: float, kind: str = "DBNClassifier") -> None:
    torch.set_num_threads(1)
    X, y = data()
    cls, params = {"DBNClassifier": (DBNClassifier, PARAMS),
                   "GenerativeDBN": (GenerativeDBN, GENERATIVE)}[kind]
    cls(**params, callbacks=[lambda epoch, record: time.sleep(pause)]).fit(
        X, y, checkpoint=path, checkpoint_every=1, resume=True)


if __name__ == "__main__":
    main(*sys.argv[1:2], float(sys.argv[2]), *sys.argv[3:4])
