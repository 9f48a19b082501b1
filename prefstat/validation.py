"""Hyperparameter checks shared by every estimator.

scikit-learn's convention: hyperparameters are stored untouched in
``__init__`` and validated when ``fit`` runs. Each check below returns the
value in a canonical type or raises one ``ValueError`` that names the
parameter, its allowed range and the value received, so that a bad setting
never surfaces as a numpy or JAX internal error. Booleans are rejected where a
number is expected (``True`` is an ``int`` in Python, but ``n_starts=True`` is
a mistake, not 1).
"""
from __future__ import annotations

import numbers
import os
import sys
import warnings

import numpy as np

__all__ = ["check_indices", "check_int", "check_real", "check_option", "check_bool", "check_level", "check_random_state",
           "warn_caller"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _is_int(value) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    return isinstance(value, (numbers.Real, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(name: str, value, low: int | None = None, high: int | None = None, *, allow_none: bool = False,
              extra: str = ""):
    """``value`` as an ``int`` in ``[low, high]`` (None allowed with ``allow_none``), else a ValueError."""
    if value is None and allow_none:
        return None
    ok = _is_int(value) and (low is None or value >= low) and (high is None or value <= high)
    if not ok:
        if low is not None and high is not None:
            rng = f"an integer in [{low}, {high}]"
        elif low is not None:
            rng = f"an integer >= {low}"
        elif high is not None:
            rng = f"an integer <= {high}"
        else:
            rng = "an integer"
        raise ValueError(f"{name} must be {rng}{' or None' if allow_none else ''}; got {value!r}.{extra}")
    return int(value)


def check_real(name: str, value, low: float | None = None, high: float | None = None, *, low_open: bool = False,
               high_open: bool = False, allow_none: bool = False, extra: str = ""):
    """``value`` as a finite ``float`` within the bounds (open or closed), else a ValueError."""
    if value is None and allow_none:
        return None
    ok = _is_real(value) and np.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        parts = []
        if low is not None:
            parts.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            parts.append(f"{'<' if high_open else '<='} {high:g}")
        bounds = f" {' and '.join(parts)}" if parts else ""
        raise ValueError(f"{name} must be a finite number{bounds}{' or None' if allow_none else ''}; "
                         f"got {value!r}.{extra}")
    return float(value)


def check_option(name: str, value, options):
    """``value`` if it is one of ``options`` (compared with ==), else a ValueError listing them."""
    if isinstance(value, str) or value is None:
        if value in options:
            return value
    raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}; got {value!r}.")


def check_bool(name: str, value) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ValueError(f"{name} must be True or False; got {value!r}.")


def check_level(level, name: str = "level") -> float:
    """A confidence level strictly between 0 and 1."""
    return check_real(name, level, 0.0, 1.0, low_open=True, high_open=True)


def check_random_state(name: str, value):
    """None, a non-negative integer, or a numpy ``Generator`` / ``SeedSequence`` (what ``default_rng`` takes)."""
    if value is None or isinstance(value, (np.random.Generator, np.random.SeedSequence)):
        return value
    if _is_int(value) and value >= 0:
        return int(value)
    raise ValueError(f"{name} must be None, a non-negative integer or a numpy Generator; got {value!r}.")


def check_indices(name: str, values, high: int, n: int | None = None, unit: str = "row") -> np.ndarray:
    """``values`` as a 1-d int64 array of indices in ``[0, high)``, one per ``unit`` (``n`` of them when
    given, else at least one); integral floats are accepted. A ValueError names the array, the first
    offending ``unit`` and its value."""
    a = np.asarray(values)
    if n is not None and (a.ndim != 1 or a.size != n):
        raise ValueError(f"{name} must have one entry per {unit} ({n}); got shape {a.shape}.")
    if n is None and (a.ndim != 1 or a.size == 0):
        raise ValueError(f"{name} must be a non-empty 1-d array (one entry per {unit}); got shape {a.shape}.")
    if a.dtype.kind not in "iu":
        if a.dtype.kind != "f" or not (np.all(np.isfinite(a)) and np.all(a == np.round(a))):
            raise ValueError(f"{name} must hold integer indices; got non-integer values.")
    a = a.astype(np.int64)
    bad = (a < 0) | (a >= high)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} is out of range [0, {high}) at {unit} {i} (value {a[i]}).")
    return a


def warn_caller(message: str, category=UserWarning) -> None:
    """``warnings.warn`` attributed to the first stack frame outside prefstat (the user's call)."""
    frame, level = sys._getframe(1), 2  # level 1 is warn_caller itself
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def is_probabilistic_classifier(obj) -> bool:
    """True for a scikit-learn classifier with ``predict_proba`` (nuisance models must give probabilities)."""
    from sklearn.base import is_classifier

    try:
        return is_classifier(obj) and hasattr(obj, "predict_proba")
    except AttributeError:  # sklearn's tag lookup fails on objects that are not estimators at all
        return False
