import numpy as np
import pytest

from fairseq_recipes.data.sampling import (
    allocate,
    resampling_ratios,
    sampling_probabilities,
)


def test_matches_hand_computation():
    # q = (0.9, 0.1); q ** 0.5 = (3, 1) / sqrt(10); normalised: (0.75, 0.25)
    np.testing.assert_allclose(sampling_probabilities([90, 10], 0.5), [0.75, 0.25])
    # XLM-R's alpha: 0.9 ** 0.3 = 0.968886, 0.1 ** 0.3 = 0.501187
    p = sampling_probabilities([900, 100], 0.3)
    np.testing.assert_allclose(p, [0.968886 / 1.470073, 0.501187 / 1.470073], atol=1e-6)


def test_alpha_one_is_proportional_and_zero_uniform():
    counts = [500, 300, 150, 50]
    np.testing.assert_allclose(
        sampling_probabilities(counts, 1.0), [0.5, 0.3, 0.15, 0.05]
    )
    np.testing.assert_allclose(sampling_probabilities(counts, 0.0), [0.25] * 4)


def test_smaller_alpha_upsamples_low_resource():
    counts = [1000, 10]
    assert sampling_probabilities(counts, 0.3)[1] > sampling_probabilities(counts, 0.7)[1]
    assert sampling_probabilities(counts, 0.7)[1] > 10 / 1010


def test_empty_language_gets_nothing_even_for_alpha_zero():
    np.testing.assert_allclose(sampling_probabilities([10, 0, 30], 0.0), [0.5, 0, 0.5])


def test_resampling_ratios_as_fairseq_multilingual_denoising():
    sizes = np.array([90, 10])
    ratios = resampling_ratios(sizes, 0.5)
    # ratio_i = p_i * sum(sizes) / size_i = (0.75 * 100 / 90, 0.25 * 100 / 10)
    np.testing.assert_allclose(ratios, [75 / 90, 2.5])
    # resampled sizes follow the probabilities and keep the total
    np.testing.assert_allclose(ratios * sizes, [75, 25])


@pytest.mark.parametrize("bad", [[], [1, -1], [0, 0], [[1, 2]], [1, float("nan")]])
def test_bad_counts_raise(bad):
    with pytest.raises(ValueError):
        sampling_probabilities(bad, 0.3)


def test_bad_alpha_raises():
    with pytest.raises(ValueError):
        sampling_probabilities([1, 2], -0.1)


def test_allocate_sums_to_total_and_follows_probabilities():
    counts = allocate(10, [0.55, 0.3, 0.15])
    assert counts.sum() == 10
    np.testing.assert_array_equal(counts, [6, 3, 1])  # 5.5, 3, 1.5: ties go first
    assert allocate(0, [0.5, 0.5]).tolist() == [0, 0]
