"""unique_keys: the counting path and the sorting path give np.unique's answer exactly."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from prefstat.data.keys import unique_keys


@settings(max_examples=200, deadline=None)
@given(arrays(np.int64, st.integers(1, 300), elements=st.integers(0, 5000)))
def test_equals_numpy_unique(key):
    # keys up to 5000 with 1-300 rows exercise both the counting path (range <= 4 n + 1024) and the sort
    distinct, inverse = unique_keys(key)
    want_d, want_i = np.unique(key, return_inverse=True)
    np.testing.assert_array_equal(distinct, want_d)
    np.testing.assert_array_equal(inverse, want_i)
    assert distinct.dtype == np.int64 and inverse.shape == key.shape


def test_large_and_empty_and_int32():
    rng = np.random.default_rng(0)
    for key in (rng.integers(0, 1000 * 1000, 1_000_000), rng.integers(0, 2**60, 1000),
                rng.integers(0, 50, 10_000).astype(np.int32)):
        distinct, inverse = unique_keys(key)
        want_d, want_i = np.unique(key, return_inverse=True)
        np.testing.assert_array_equal(distinct, want_d)
        np.testing.assert_array_equal(inverse, want_i)
    distinct, inverse = unique_keys(np.zeros(0, np.int64))
    assert distinct.size == 0 and inverse.size == 0
