"""Double precision for prefstat's JAX computations, without touching global settings.

JAX computes in float32 unless ``jax_enable_x64`` is set. prefstat needs float64
for every estimate and standard error, but it does not flip the user's global
flag: each public entry point runs its JAX work inside the scoped
``jax.enable_x64(True)`` context. Outside prefstat the user's setting is
unchanged. Pure cores (``fit_core`` functions) called directly from user code
must be traced inside :func:`x64_scope` (or with x64 enabled globally) to run
in float64; the simulation runner does this for you.
"""
from __future__ import annotations

import functools

import jax

x64_scope = functools.partial(jax.enable_x64, True)


def x64(fn):
    """Decorator: run ``fn`` with 64-bit JAX types enabled (scoped, restored on exit)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with jax.enable_x64(True):
            return fn(*args, **kwargs)

    return wrapper
