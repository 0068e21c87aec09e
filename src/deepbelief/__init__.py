"""deepbelief: Deep Belief Networks and RBMs in PyTorch, with scikit-learn estimators.

>>> from deepbelief import DBNClassifier, RBM, load
"""

from deepbelief._version import __version__
from deepbelief.estimators import (
    RBM,
    DBNClassifier,
    DBNRegressor,
    DBNTransformer,
    GenerativeDBN,
    load,
)
from deepbelief.exceptions import (
    DataRangeWarning,
    DataScaleWarning,
    DivergenceError,
    ModelFileError,
)

__all__ = [
    "RBM",
    "DBNClassifier",
    "DBNRegressor",
    "DBNTransformer",
    "DataRangeWarning",
    "DataScaleWarning",
    "DivergenceError",
    "GenerativeDBN",
    "ModelFileError",
    "__version__",
    "load",
]
