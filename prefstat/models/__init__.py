"""Estimator families; each module has a pure JAX core and a scikit-learn-style class."""
from .bradley_terry import BradleyTerry

__all__ = ["BradleyTerry"]
