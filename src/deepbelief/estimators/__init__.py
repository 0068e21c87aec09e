"""scikit-learn estimators built on the PyTorch core."""

from deepbelief.estimators._autoencoder import DBNAutoencoder
from deepbelief.estimators._base import load, resolve_device
from deepbelief.estimators._conditional import ConditionalRBM
from deepbelief.estimators._dbn import DBNTransformer
from deepbelief.estimators._documents import ReplicatedSoftmaxRBM
from deepbelief.estimators._generative import GenerativeDBN
from deepbelief.estimators._hashing import SemanticHashing
from deepbelief.estimators._presets import PRESETS, preset_params
from deepbelief.estimators._rbm import RBM
from deepbelief.estimators._sequence import SequenceCRBM
from deepbelief.estimators._supervised import DBNClassifier, DBNRegressor

__all__ = [
    "PRESETS",
    "RBM",
    "ConditionalRBM",
    "DBNAutoencoder",
    "DBNClassifier",
    "DBNRegressor",
    "DBNTransformer",
    "GenerativeDBN",
    "ReplicatedSoftmaxRBM",
    "SemanticHashing",
    "SequenceCRBM",
    "load",
    "preset_params",
    "resolve_device",
]
