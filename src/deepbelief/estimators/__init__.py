"""scikit-learn estimators built on the PyTorch core."""

from deepbelief.estimators._base import load, resolve_device
from deepbelief.estimators._dbn import DBNClassifier, DBNRegressor, DBNTransformer
from deepbelief.estimators._generative import GenerativeDBN
from deepbelief.estimators._rbm import RBM

__all__ = [
    "RBM",
    "DBNClassifier",
    "DBNRegressor",
    "DBNTransformer",
    "GenerativeDBN",
    "load",
    "resolve_device",
]
