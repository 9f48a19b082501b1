"""The dense design's storage paths: the blocked Gram product and the one-copy device transfer."""
import jax
import jax.numpy as jnp
import numpy as np

from prefstat._x64 import x64_scope
from prefstat.design import GRAM_BLOCK, DenseDesign, device_rows


def test_blocked_gram_equals_one_product():
    # 16 full blocks plus a remainder: the path taken by tall designs, against the direct product
    # and numpy (only the order of the sums differs: relative 1e-13 allows for 66k-term sums)
    rng = np.random.default_rng(0)
    m, p = 16 * GRAM_BLOCK + 123, 5
    X, d = rng.standard_normal((m, p)), rng.random(m)
    with x64_scope():
        got = np.asarray(jax.jit(lambda X, d: DenseDesign(X=X).gram(d))(jnp.asarray(X), jnp.asarray(d)))
    np.testing.assert_allclose(got, X.T @ (d[:, None] * X), rtol=1e-13, atol=1e-9)
    assert got.dtype == np.float64


def test_device_rows_copies_once_pads_with_zeros_and_owns_its_buffer():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40_000, 8))  # 2.5 MB: the aligned-copy path
    with x64_scope():
        dev = device_rows(X, 40_100)
        kept = X.copy()
        X[:] = 0.0  # the caller changes its array after the transfer
        out = np.asarray(dev)
    assert out.shape == (40_100, 8) and out.dtype == np.float64
    np.testing.assert_array_equal(out[:40_000], kept)
    np.testing.assert_array_equal(out[40_000:], 0.0)
    small = np.arange(6.0).reshape(3, 2)
    with x64_scope():
        np.testing.assert_array_equal(np.asarray(device_rows(small, 4)), np.r_[small, [[0.0, 0.0]]])
