"""prefstat: statistical estimation on pairwise preference data.

Estimates with confidence intervals that cover, estimators that are consistent
for what they claim, and simulation studies against exact ground truth.

JAX precision: prefstat computes every estimate and standard error in float64
inside a scoped ``jax.enable_x64(True)`` context; it never changes your global
JAX configuration (see :mod:`prefstat._x64`).
"""
from . import datasets
from .data import ComparisonTable
from .models import DIPO, BradleyTerry, DavidsonBradleyTerry, DebiasedBradleyTerry, LatentClassBT, SignEstimator
from .models import RelativeDensityRatio

__all__ = ["DIPO", "BradleyTerry", "DavidsonBradleyTerry", "DebiasedBradleyTerry", "LatentClassBT", "SignEstimator",
           "ComparisonTable", "datasets", "RelativeDensityRatio"]
__version__ = "0.1.0"
