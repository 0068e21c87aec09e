"""scikit-learn estimators built on the PyTorch core."""

from ._base import load
from ._dbn import DBNClassifier, DBNRegressor, DBNTransformer
from ._generative import GenerativeDBN
from ._rbm import RBM

__all__ = ["RBM", "DBNClassifier", "DBNRegressor", "DBNTransformer", "GenerativeDBN", "load"]
