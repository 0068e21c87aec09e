"""deepbelief: Deep Belief Networks and RBMs in PyTorch, with scikit-learn estimators.

>>> from deepbelief import DBNClassifier, RBM, load

The names below are imported on first use (PEP 562), so that ``import deepbelief`` (and
the ``deepbelief`` command's ``--help``) does not pay for importing torch and
scikit-learn until an estimator is needed.
"""

import importlib as _importlib
import typing as _typing

from deepbelief._version import __version__

#: Public name -> the module that defines it (imported on first access).
_LAZY = {
    "RBM": "deepbelief.estimators",
    "DBNAutoencoder": "deepbelief.estimators",
    "DBNClassifier": "deepbelief.estimators",
    "DBNRegressor": "deepbelief.estimators",
    "DBNTransformer": "deepbelief.estimators",
    "GenerativeDBN": "deepbelief.estimators",
    "ConditionalRBM": "deepbelief.estimators",
    "SequenceCRBM": "deepbelief.estimators",
    "ReplicatedSoftmaxRBM": "deepbelief.estimators",
    "SemanticHashing": "deepbelief.estimators",
    "load": "deepbelief.estimators",
    "DataRangeWarning": "deepbelief.exceptions",
    "DataScaleWarning": "deepbelief.exceptions",
    "SequenceRangeWarning": "deepbelief.exceptions",
    "DivergenceError": "deepbelief.exceptions",
    "ModelFileError": "deepbelief.exceptions",
}

__all__ = [
    "RBM",
    "ConditionalRBM",
    "DBNAutoencoder",
    "DBNClassifier",
    "DBNRegressor",
    "DBNTransformer",
    "DataRangeWarning",
    "DataScaleWarning",
    "DivergenceError",
    "GenerativeDBN",
    "ModelFileError",
    "ReplicatedSoftmaxRBM",
    "SemanticHashing",
    "SequenceCRBM",
    "SequenceRangeWarning",
    "__version__",
    "load",
]


def __getattr__(name: str) -> _typing.Any:
    """Import a public name on first access (PEP 562) and keep it in the module."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'deepbelief' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
