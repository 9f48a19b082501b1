"""Estimator families; each module has a pure JAX core and a scikit-learn-style class.

Names are imported on first use (module ``__getattr__``), so ``from prefstat.models import
BradleyTerry`` imports only the modules Bradley-Terry needs.
"""
from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

# Public name -> defining module. New estimators: add one line here and the name to __all__.
_LAZY = {
    "PreferenceClassifier": ".base",
    "preference_accuracy": ".base",
    "preference_accuracy_scorer": ".base",
    "BradleyTerry": ".bradley_terry",
    "DavidsonBradleyTerry": ".davidson",
    "DebiasedBradleyTerry": ".debiased",
    "DIPO": ".dipo",
    "LatentClassBT": ".latent_class",
    "SignEstimator": ".sign",
    "RelativeDensityRatio": ".density_ratio",
    "RDROPolicy": ".rdro_policy",
}

__all__ = ["BradleyTerry", "DavidsonBradleyTerry", "DebiasedBradleyTerry", "DIPO", "LatentClassBT", "SignEstimator",
           "RelativeDensityRatio", "RelativeDensityRatio", "RDROPolicy",
           "PreferenceClassifier", "preference_accuracy", "preference_accuracy_scorer"]

if TYPE_CHECKING:
    from .base import PreferenceClassifier, preference_accuracy, preference_accuracy_scorer
    from .bradley_terry import BradleyTerry
    from .davidson import DavidsonBradleyTerry
    from .debiased import DebiasedBradleyTerry
    from .dipo import DIPO
    from .latent_class import LatentClassBT
    from .density_ratio import RelativeDensityRatio
    from .rdro_policy import RDROPolicy
    from .sign import SignEstimator


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        # A submodule not imported yet (``prefstat.models.<module>``, which an eager import used to load).
        if name.startswith("_") or importlib.util.find_spec(f"prefstat.models.{name}") is None:
            raise AttributeError(f"module 'prefstat.models' has no attribute {name!r}")
        return importlib.import_module(f"prefstat.models.{name}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
