"""prefstat: statistical estimation on pairwise preference data.

Estimates with confidence intervals that cover, estimators that are consistent
for what they claim, and simulation studies against exact ground truth.

JAX precision: prefstat computes every estimate and standard error in float64
inside a scoped ``jax.enable_x64(True)`` context; it never changes your global
JAX precision (see :mod:`prefstat._x64`).

Start-up: ``import prefstat`` imports neither JAX nor pandas nor the models;
each public name below is imported on first use (module ``__getattr__``).
``import prefstat`` also sets up JAX's persistent compilation cache and XLA's
CPU threads when you have not configured them yourself: see
:mod:`prefstat.runtime` (``PREFSTAT_NO_CACHE=1`` turns the cache off).
"""
from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

from . import runtime

runtime.configure()

# Public name -> module that defines it (a submodule itself when the name is the module's last part).
# New exports: add one line here and the name to __all__.
_LAZY = {
    "BradleyTerry": "prefstat.models",
    "DavidsonBradleyTerry": "prefstat.models",
    "DebiasedBradleyTerry": "prefstat.models",
    "DIPO": "prefstat.models",
    "LatentClassBT": "prefstat.models",
    "SignEstimator": "prefstat.models",
    "ComparisonTable": "prefstat.data",
    "datasets": "prefstat.datasets",
    "diagnose": "prefstat.diagnose",
    "Leaderboard": "prefstat.leaderboard",
    "RelativeDensityRatio": "prefstat.models",
    "RDROPolicy": "prefstat.models",
}

__all__ = ["DIPO", "BradleyTerry", "DavidsonBradleyTerry", "DebiasedBradleyTerry", "LatentClassBT", "SignEstimator",
           "RelativeDensityRatio", "RDROPolicy", "ComparisonTable", "Leaderboard", "datasets", "diagnose"]
__version__ = "0.1.0"

if TYPE_CHECKING:  # static analysers and IDEs see the names; at run time they are imported on first use
    from . import datasets, diagnose
    from .data import ComparisonTable
    from .leaderboard import Leaderboard
    from .models import (DIPO, BradleyTerry, DavidsonBradleyTerry, DebiasedBradleyTerry, LatentClassBT,
                         RDROPolicy, RelativeDensityRatio, SignEstimator)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        # A submodule not imported yet (``prefstat.<module>``, which an eager import used to load).
        if name.startswith("_") or importlib.util.find_spec(f"prefstat.{name}") is None:
            raise AttributeError(f"module 'prefstat' has no attribute {name!r}")
        return importlib.import_module(f"prefstat.{name}")
    value = importlib.import_module(module)
    if module.rsplit(".", 1)[1] != name:
        value = getattr(value, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
