"""scikit-learn estimators built on the PyTorch core."""

from deepbelief.estimators._base import load, resolve_device
from deepbelief.estimators._dbn import DBNTransformer
from deepbelief.estimators._generative import GenerativeDBN
from deepbelief.estimators._rbm import RBM
from deepbelief.estimators._supervised import DBNClassifier, DBNRegressor

__all__ = [
    "RBM",
    "DBNClassifier",
    "DBNRegressor",
    "DBNTransformer",
    "GenerativeDBN",
    "load",
    "resolve_device",
]
