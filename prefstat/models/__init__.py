"""Estimator families; each module has a pure JAX core and a scikit-learn-style class."""
from .bradley_terry import BradleyTerry
from .debiased import DebiasedBradleyTerry
from .latent_class import LatentClassBT
from .sign import SignEstimator

__all__ = ["BradleyTerry", "DebiasedBradleyTerry"]
__all__ += ["LatentClassBT", "SignEstimator"]
