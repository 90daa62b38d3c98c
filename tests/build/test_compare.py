"""verify/csim.compare: the bit-for-bit verdict and the error figures it reports."""

import numpy as np

from jpq2hw.verify.csim import compare


def test_identical_outputs_are_exact():
    hw = np.arange(12, dtype=np.float64).reshape(3, 4) / 8
    result = compare(hw, hw.copy())
    assert result.mismatched_vectors == 0 and result.max_abs_error == 0.0 and result.first_mismatch is None


def test_one_lsb_off_is_a_mismatch():
    hw = np.zeros((3, 4))
    ref = hw.copy()
    ref[2, 1] = 2.0 ** -10
    result = compare(hw, ref)
    assert result.mismatched_vectors == 1 and result.first_mismatch == 2 and result.max_abs_error == 2.0 ** -10


def test_a_reference_value_with_no_hardware_code_is_a_mismatch_and_the_error_stays_a_number():
    """Float scales: a reference value that maps to no integer code comes back as NaN (HostIO.reference_codes)."""
    hw = np.zeros((3, 4))
    ref = hw.copy()
    ref[0, 0] = np.nan
    ref[1, 2] = 3.0
    result = compare(hw, ref)
    assert result.mismatched_vectors == 2 and result.first_mismatch == 0
    assert result.max_abs_error == 3.0
