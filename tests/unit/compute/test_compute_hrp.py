"""HRP: against a line-by-line transcription of López de Prado's snippets, hand cases, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.cluster.hierarchy as sch
from compute_test_data import random_returns
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import squareform

from compute import HRPResult, InvalidInputError, hierarchical_risk_parity, hrp_weights


def _get_cluster_var(cov: np.ndarray, items: list[int]) -> float:
    """Snippet 16.4 getClusterVar: variance of the cluster's inverse-variance portfolio."""
    sub = cov[np.ix_(items, items)]
    ivp = 1.0 / np.diag(sub)
    ivp /= ivp.sum()
    return float(ivp @ sub @ ivp)


def _get_quasi_diag(link: np.ndarray) -> list[int]:
    """Snippet 16.2 getQuasiDiag, with lists instead of pandas Series."""
    link = link.astype(int)
    items = [link[-1, 0], link[-1, 1]]
    n_items = link[-1, 3]
    while max(items) >= n_items:
        expanded: list[int] = []
        for item in items:
            if item >= n_items:
                row = link[item - n_items]
                expanded.extend([row[0], row[1]])
            else:
                expanded.append(item)
        items = expanded
    return [int(i) for i in items]


def _get_rec_bipart(cov: np.ndarray, order: list[int]) -> np.ndarray:
    """Snippet 16.3 getRecBipart."""
    weights = np.ones(cov.shape[0])
    clusters = [order]
    while clusters:
        clusters = [
            c[j:k]
            for c in clusters
            for j, k in ((0, len(c) // 2), (len(c) // 2, len(c)))
            if len(c) > 1
        ]
        for i in range(0, len(clusters), 2):
            left, right = clusters[i], clusters[i + 1]
            v_left, v_right = _get_cluster_var(cov, left), _get_cluster_var(cov, right)
            alpha = 1 - v_left / (v_left + v_right)
            weights[left] *= alpha
            weights[right] *= 1 - alpha
    return weights


def _reference_hrp(returns: np.ndarray, method: str) -> tuple[np.ndarray, list[int]]:
    cov = np.cov(returns, rowvar=False)
    corr = np.corrcoef(returns, rowvar=False)
    dist = np.sqrt(np.clip((1 - corr) / 2, 0, 1))
    np.fill_diagonal(dist, 0)
    link = sch.linkage(squareform(dist, checks=False), method)
    order = _get_quasi_diag(link)
    return _get_rec_bipart(cov, order), order


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_assets=st.integers(2, 40),
    method=st.sampled_from(["single", "complete", "average", "ward"]),
)
def test_matches_lopez_de_prado_reference(seed: int, n_assets: int, method: str) -> None:
    returns = random_returns(np.random.default_rng(seed), 120, n_assets)
    result = hierarchical_risk_parity(returns, method)  # type: ignore[arg-type]
    expected_weights, expected_order = _reference_hrp(returns, method)
    assert result.order.tolist() == expected_order
    np.testing.assert_allclose(result.weights, expected_weights, rtol=1e-10, atol=1e-15)
    assert np.all(result.weights > 0)
    assert result.weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert result.linkage_matrix.shape == (n_assets - 1, 4)
    assert sorted(result.order.tolist()) == list(range(n_assets))


def test_two_assets_is_inverse_variance() -> None:
    rng = np.random.default_rng(0)
    returns = rng.normal(0, 1, (500, 2)) * [0.01, 0.02]
    variances = np.var(returns, axis=0, ddof=1)
    expected = (1 / variances) / np.sum(1 / variances)
    np.testing.assert_allclose(hrp_weights(returns), expected, rtol=1e-12)


def test_two_uncorrelated_blocks_hand_derived() -> None:
    # Assets 0,1 and 2,3 are perfectly correlated pairs, the pairs independent: the tree is
    # ((0,1),(2,3)); inside a pair weights are inverse-variance; between pairs, inverse of each
    # pair's IVP variance.
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 0.01, (2, 5000))
    a -= a.mean()
    b -= b.mean()
    b -= a * (a @ b) / (a @ a)  # exactly uncorrelated in sample
    returns = np.column_stack([a, 2 * a, b, 3 * b])
    result = hierarchical_risk_parity(returns)
    va, vb = np.var(a, ddof=1), np.var(b, ddof=1)
    # IVP of (a, 2a): weights 4/5, 1/5, portfolio = 6/5 a: variance 36/25 va.
    pair_a, pair_b = 36 / 25 * va, (0.9 * 1 + 0.1 * 3) ** 2 * vb
    alpha = 1 - pair_a / (pair_a + pair_b)
    expected = np.array([0.8 * alpha, 0.2 * alpha, 0.9 * (1 - alpha), 0.1 * (1 - alpha)])
    np.testing.assert_allclose(result.weights, expected, rtol=1e-9)
    assert {frozenset(result.order[:2].tolist()), frozenset(result.order[2:].tolist())} == {
        frozenset({0, 1}),
        frozenset({2, 3}),
    }


def test_scale_of_returns_does_not_matter_and_nan_rows_are_dropped() -> None:
    returns = random_returns(np.random.default_rng(2), 300, 12)
    np.testing.assert_allclose(hrp_weights(returns), hrp_weights(returns * 16), rtol=1e-12)
    holed = returns.copy()
    holed[[5, 9], [1, 7]] = np.nan
    np.testing.assert_allclose(
        hrp_weights(holed), hrp_weights(np.delete(returns, [5, 9], axis=0)), rtol=1e-12
    )


def test_result_exposes_tree_and_serialises() -> None:
    returns = random_returns(np.random.default_rng(3), 200, 7)
    result = hierarchical_risk_parity(returns, "average")
    assert isinstance(result, HRPResult)
    # The order is the dendrogram's leaf order.
    assert result.order.tolist() == sch.dendrogram(result.linkage_matrix, no_plot=True)["leaves"]
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["order"] == result.order.tolist()
    assert payload["linkage"] == "average"
    assert np.allclose(payload["distance"], result.distance)


def test_hrp_errors_are_typed() -> None:
    returns = random_returns(np.random.default_rng(4), 50, 3)
    with pytest.raises(InvalidInputError, match="linkage"):
        hrp_weights(returns, "median")  # type: ignore[arg-type]
    constant = returns.copy()
    constant[:, 1] = 0.01
    with pytest.raises(InvalidInputError, match="zero variance"):
        hrp_weights(constant)
    with pytest.raises(InvalidInputError, match="at least 2 assets"):
        hrp_weights(returns[:, :1])
    with pytest.raises(InvalidInputError, match="at least 2 complete rows"):
        hrp_weights(returns[:1])
