"""deepbelief: Deep Belief Networks and RBMs in PyTorch, with scikit-learn estimators.

>>> from deepbelief import DBNClassifier, RBM, load
"""

__version__ = "0.1.0"

from .estimators import RBM, DBNClassifier, DBNRegressor, DBNTransformer, GenerativeDBN, load
from .exceptions import DivergenceError, ModelFileError

__all__ = [
    "RBM",
    "DBNClassifier",
    "DBNRegressor",
    "DBNTransformer",
    "DivergenceError",
    "GenerativeDBN",
    "ModelFileError",
    "__version__",
    "load",
]
