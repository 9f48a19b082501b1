"""Estimator families; each module has a pure JAX core and a scikit-learn-style class."""
from .base import PreferenceClassifier, preference_accuracy, preference_accuracy_scorer
from .bradley_terry import BradleyTerry
from .davidson import DavidsonBradleyTerry
from .debiased import DebiasedBradleyTerry
from .dipo import DIPO
from .density_ratio import RelativeDensityRatio
from .latent_class import LatentClassBT
from .sign import SignEstimator

__all__ = ["BradleyTerry", "DavidsonBradleyTerry", "DebiasedBradleyTerry", "DIPO", "LatentClassBT", "SignEstimator", "RelativeDensityRatio",
           "PreferenceClassifier", "preference_accuracy", "preference_accuracy_scorer"]
