"""Black-Litterman: PyPortfolioOpt's posterior to 1e-10, hand-derived cases, properties, errors."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from compute_test_data import random_covariance
from hypothesis import given, settings
from hypothesis import strategies as st

from compute import (
    BlackLittermanResult,
    InvalidInputError,
    NotPositiveDefiniteError,
    black_litterman,
    implied_returns,
)
from compute.views import IDZOREK_ZERO_CONFIDENCE_OMEGA

GOLDEN = json.loads((Path(__file__).parent / "data" / "pypfopt_black_litterman.json").read_text())
REPOSITORY = Path(__file__).resolve().parents[3]


def _max_relative_difference(ours: np.ndarray, theirs: Any) -> float:
    """Largest |Δ|, relative to the larger of 1 and the reference's largest entry."""
    expected = np.asarray(theirs, dtype=np.float64)
    if expected.size == 0:  # JSON spells a 0×0 matrix []
        expected = expected.reshape(ours.shape)
    assert ours.shape == expected.shape
    largest = float(np.max(np.abs(expected), initial=0.0))
    return float(np.max(np.abs(ours - expected), initial=0.0)) / max(1.0, largest)


def _golden_inputs(case: dict[str, Any]) -> dict[str, Any]:
    """Our keyword arguments for a golden case (its JSON ``P`` of a 0×N matrix is ``[]``)."""
    return {
        "pi": case["pi"],
        "market_weights": case["market_caps"],
        "risk_aversion": case["risk_aversion"],
        "P": case["P"],
        "Q": case["Q"],
        "omega": case["omega"],
        "view_confidences": case["view_confidences"],
        "tau": case["tau"],
    }


def _views(rng: np.random.Generator, n_assets: int, n_views: int) -> np.ndarray:
    """K×N views mixing absolute (one asset) and relative (long-short) portfolios."""
    picking = np.zeros((n_views, n_assets))
    for k in range(n_views):
        if k % 2 == 0:
            picking[k, rng.integers(n_assets)] = 1.0
        else:
            first, second = rng.choice(n_assets, 2, replace=False)
            picking[k, first], picking[k, second] = 1.0, -1.0
    return picking


def _problem(seed: int, n_assets: int, n_views: int) -> dict[str, Any]:
    """A random problem: annual covariance, prior, linearly independent views."""
    rng = np.random.default_rng(seed)
    while True:
        picking = _views(rng, n_assets, n_views)
        if np.linalg.matrix_rank(picking) == n_views:
            break
    return {
        "cov": random_covariance(rng, n_assets),
        "pi": rng.normal(0.06, 0.04, n_assets),
        "P": picking,
        "Q": rng.normal(0.05, 0.08, n_views),
    }


# ----- against PyPortfolioOpt ------------------------------------------------------------------


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=[c["name"] for c in GOLDEN["cases"]])
def test_equals_pypfopt_golden(case: dict[str, Any]) -> None:
    """Stored PyPortfolioOpt output (tests/support/make_pypfopt_golden.py), to 1e-10."""
    result = black_litterman(case["cov"], **_golden_inputs(case))
    assert _max_relative_difference(result.mu, case["bl_returns"]) <= 1e-10
    assert _max_relative_difference(result.cov, case["bl_cov"]) <= 1e-10
    assert _max_relative_difference(result.omega, case["pypfopt_omega"]) <= 1e-10


def test_golden_file_covers_every_prior_omega_and_view_kind() -> None:
    cases = GOLDEN["cases"]
    assert {len(c["Q"]) for c in cases} >= {0, 1, 2, 3, 4}
    assert {len(c["cov"]) for c in cases} >= {5, 30}
    assert any(c["pi"] is None and c["market_caps"] is None for c in cases)  # zero prior
    assert any(c["market_caps"] is not None for c in cases)
    assert any(c["pi"] is not None for c in cases)
    assert any(c["P"] is None for c in cases)  # identity
    assert {c["omega"] if isinstance(c["omega"], str) else "given" for c in cases} == {
        "default",
        "idzorek",
        "given",
    }
    confidences = [x for c in cases for x in c["view_confidences"] or []]
    assert 0.0 in confidences
    assert 1.0 in confidences
    # Relative views (rows summing to 0) as well as absolute ones.
    rows = [row for c in cases for row in c["P"] or []]
    assert any(abs(sum(row)) < 1e-12 for row in rows)
    assert any(sorted(row)[-1] == 1.0 and sum(row) == 1.0 for row in rows)


@pytest.mark.parametrize(
    ("omega", "prior"),
    [
        ("default", "pi"),
        ("default", "market"),
        ("idzorek", "pi"),
        ("idzorek", "none"),
        ("matrix", "pi"),
    ],
)
def test_equals_pypfopt_live(omega: str, prior: str) -> None:
    """The same comparison on other problems, where PyPortfolioOpt is installed."""
    pytest.importorskip("pypfopt")
    import pandas as pd
    from pypfopt import BlackLittermanModel

    problem = _problem(11, 12, 3)
    rng = np.random.default_rng(3)
    caps = rng.uniform(1.0, 100.0, 12)
    ours_omega: Any = omega
    theirs: dict[str, Any] = {"omega": omega}
    ours: dict[str, Any] = {}
    if omega == "idzorek":
        theirs["view_confidences"] = ours["view_confidences"] = [0.0, 0.4, 1.0]
    elif omega == "matrix":
        root = rng.normal(0.0, 0.05, (3, 3))
        ours_omega = theirs["omega"] = root @ root.T + 1e-3 * np.eye(3)
    if prior == "pi":
        theirs["pi"] = ours["pi"] = problem["pi"]
    elif prior == "market":
        theirs.update(pi="market", market_caps=pd.Series(caps))
        ours["market_weights"] = caps
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = BlackLittermanModel(
            pd.DataFrame(problem["cov"]),
            Q=problem["Q"],
            P=problem["P"],
            tau=0.04,
            risk_aversion=2.0,
            **theirs,
        )
        expected_mu = np.asarray(model.bl_returns())
        expected_cov = np.asarray(model.bl_cov())
    result = black_litterman(
        problem["cov"],
        P=problem["P"],
        Q=problem["Q"],
        omega=ours_omega,
        tau=0.04,
        risk_aversion=2.0,
        **ours,
    )
    assert _max_relative_difference(result.mu, expected_mu) <= 1e-10
    assert _max_relative_difference(result.cov, expected_cov) <= 1e-10


def test_implied_returns_equals_pypfopt_market_prior() -> None:
    pytest.importorskip("pypfopt")
    import pandas as pd
    from pypfopt.black_litterman import market_implied_prior_returns

    rng = np.random.default_rng(4)
    cov = random_covariance(rng, 7)
    caps = rng.uniform(1.0, 50.0, 7)
    theirs = market_implied_prior_returns(pd.Series(caps), 2.5, pd.DataFrame(cov), 0.01)
    ours = implied_returns(cov, caps, risk_aversion=2.5, risk_free_rate=0.01)
    assert _max_relative_difference(ours, np.asarray(theirs)) <= 1e-14


# ----- by hand ---------------------------------------------------------------------------------

DIAGONAL = np.diag([0.04, 0.09, 0.16])
PRIOR = np.array([0.05, 0.07, 0.09])


def test_one_absolute_view_with_default_omega_meets_halfway() -> None:
    """Σ diagonal, one view on asset 0, Ω = τσ₀²: A = 2τσ₀², so μ₀ = (π₀ + q)/2 and
    Σ_BL[0, 0] = σ₀²(1 + τ) − (τσ₀²)²/(2τσ₀²) = σ₀²(1 + τ/2); the other assets keep their prior
    and (1 + τ)σᵢ², with no correlation created."""
    tau, q = 0.05, 0.15
    result = black_litterman(DIAGONAL, pi=PRIOR, P=[1.0, 0.0, 0.0], Q=q, tau=tau)
    np.testing.assert_allclose(result.mu, [(0.05 + q) / 2, 0.07, 0.09], rtol=0, atol=1e-16)
    expected_cov = np.diag([0.04 * (1 + tau / 2), 0.09 * (1 + tau), 0.16 * (1 + tau)])
    np.testing.assert_allclose(result.cov, expected_cov, rtol=0, atol=1e-16)
    np.testing.assert_allclose(result.omega, [[tau * 0.04]], rtol=1e-15)
    assert result.prior is not result.mu
    np.testing.assert_array_equal(result.prior, PRIOR)


@pytest.mark.parametrize("omega", [0.001, 0.01, 0.5])
def test_one_absolute_view_with_given_omega(omega: float) -> None:
    """μ₁ = π₁ + τσ₁²/(τσ₁² + ω)(q − π₁), Σ_BL[1, 1] = σ₁²(1 + τ) − (τσ₁²)²/(τσ₁² + ω)."""
    tau, q, var = 0.1, -0.02, 0.09
    result = black_litterman(DIAGONAL, pi=PRIOR, P=[0, 1, 0], Q=[q], omega=[omega], tau=tau)
    shrink = tau * var / (tau * var + omega)
    np.testing.assert_allclose(result.mu, [0.05, 0.07 + shrink * (q - 0.07), 0.09], atol=1e-16)
    expected = var * (1 + tau) - (tau * var) ** 2 / (tau * var + omega)
    assert result.cov[1, 1] == pytest.approx(expected, rel=1e-14)
    np.testing.assert_allclose(result.omega, [[omega]])


@pytest.mark.parametrize("confidence", [0.1, 0.25, 0.5, 0.9, 1.0])
def test_idzorek_confidence_is_the_fraction_of_the_way_to_a_single_view(confidence: float) -> None:
    """Ω = τσ²(1 − c)/c gives A = τσ²/c, so one view moves its asset by c·(q − π) (Idzorek's
    intent, exact for a single view)."""
    q = 0.2
    result = black_litterman(
        DIAGONAL, pi=PRIOR, P=[0, 0, 1], Q=q, omega="idzorek", view_confidences=[confidence]
    )
    assert result.mu[2] == pytest.approx(0.09 + confidence * (q - 0.09), abs=1e-15)
    np.testing.assert_allclose(result.omega, [[0.05 * 0.16 * (1 - confidence) / confidence]])


def test_full_confidence_meets_every_view_exactly() -> None:
    """Confidence 1 → Ω = 0 (PyPortfolioOpt's α = 0): the posterior satisfies Pμ = Q."""
    problem = _problem(21, 15, 4)
    result = black_litterman(
        problem["cov"],
        pi=problem["pi"],
        P=problem["P"],
        Q=problem["Q"],
        omega="idzorek",
        view_confidences=[1.0] * 4,
    )
    np.testing.assert_array_equal(result.omega, np.zeros((4, 4)))
    np.testing.assert_allclose(problem["P"] @ result.mu, problem["Q"], rtol=0, atol=1e-14)
    # A given zero omega is the same certain views.
    given = black_litterman(
        problem["cov"], pi=problem["pi"], P=problem["P"], Q=problem["Q"], omega=np.zeros(4)
    )
    np.testing.assert_allclose(given.mu, result.mu, rtol=0, atol=1e-15)
    # Certain views leave no uncertainty in their portfolios beyond Σ: P M Pᵀ = 0.
    extra = problem["P"] @ (result.cov - problem["cov"]) @ problem["P"].T
    np.testing.assert_allclose(extra, 0.0, atol=1e-15)


def test_zero_confidence_leaves_the_prior() -> None:
    """Confidence 0 → Ω = 1e6 in absolute units (PyPortfolioOpt's stand-in for ∞): the pull is
    τσ²·|q − π|/1e6, below 1e-9 for annual variances."""
    problem = _problem(22, 10, 3)
    result = black_litterman(
        problem["cov"],
        pi=problem["pi"],
        P=problem["P"],
        Q=problem["Q"],
        omega="idzorek",
        view_confidences=[0.0, 0.0, 0.0],
    )
    np.testing.assert_array_equal(result.omega, np.eye(3) * IDZOREK_ZERO_CONFIDENCE_OMEGA)
    np.testing.assert_allclose(result.mu, problem["pi"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.cov, (1 + 0.05) * problem["cov"], rtol=0, atol=1e-9)
    # A zero-confidence view beside a certain one: the certain view is still met.
    mixed = black_litterman(
        problem["cov"],
        pi=problem["pi"],
        P=problem["P"],
        Q=problem["Q"],
        omega="idzorek",
        view_confidences=[0.0, 1.0, 0.0],
    )
    assert problem["P"][1] @ mixed.mu == pytest.approx(problem["Q"][1], abs=1e-14)


def test_no_views_answers_the_prior_and_inflated_covariance() -> None:
    """K = 0 (PyPortfolioOpt accepts an empty Q with a 0×N P): μ = π, Σ_BL = (1 + τ)Σ."""
    for picking in (np.zeros((0, 3)), []):
        result = black_litterman(DIAGONAL, pi=PRIOR, P=picking, Q=[], tau=0.2)
        np.testing.assert_array_equal(result.mu, PRIOR)
        np.testing.assert_allclose(result.cov, 1.2 * DIAGONAL, rtol=1e-15)
        assert result.omega.shape == (0, 0)
        assert result.P.shape == (0, 3)


def test_zero_prior_market_prior_and_given_prior() -> None:
    problem = _problem(23, 6, 2)
    views = {"P": problem["P"], "Q": problem["Q"]}
    none = black_litterman(problem["cov"], **views)
    zero = black_litterman(problem["cov"], pi=np.zeros(6), **views)
    np.testing.assert_array_equal(none.prior, np.zeros(6))
    np.testing.assert_array_equal(none.mu, zero.mu)
    caps = np.array([5.0, 1.0, 2.0, 2.0, 7.0, 3.0])
    market = black_litterman(problem["cov"], market_weights=caps, risk_aversion=2.5, **views)
    expected_prior = 2.5 * problem["cov"] @ (caps / caps.sum())
    np.testing.assert_allclose(market.prior, expected_prior, rtol=1e-15)
    np.testing.assert_allclose(implied_returns(problem["cov"], caps, 2.5), expected_prior)
    given = black_litterman(problem["cov"], pi=expected_prior, **views)
    np.testing.assert_allclose(market.mu, given.mu, rtol=0, atol=1e-16)
    # The risk aversion scales the market prior only.
    assert black_litterman(problem["cov"], pi=expected_prior, risk_aversion=9.0, **views).mu == (
        pytest.approx(given.mu, abs=0)
    )


def test_implied_returns_normalises_and_adds_the_risk_free_rate() -> None:
    weights = np.array([0.2, 0.3, 0.5])
    expected = 3.0 * DIAGONAL @ weights + 0.01
    np.testing.assert_allclose(implied_returns(DIAGONAL, weights, 3.0, 0.01), expected)
    np.testing.assert_allclose(implied_returns(DIAGONAL, 7 * weights, 3.0, 0.01), expected)


def test_view_shorthands() -> None:
    """A 1-D P is one view, a scalar Q one view, P=None with N views the identity, a vector
    omega its diagonal."""
    one_row = black_litterman(DIAGONAL, pi=PRIOR, P=[1.0, -1.0, 0.0], Q=0.01)
    two_d = black_litterman(DIAGONAL, pi=PRIOR, P=[[1.0, -1.0, 0.0]], Q=[0.01])
    np.testing.assert_array_equal(one_row.mu, two_d.mu)
    identity = black_litterman(DIAGONAL, pi=PRIOR, Q=[0.1, 0.0, 0.2], omega=[0.01, 0.02, 0.03])
    explicit = black_litterman(
        DIAGONAL, pi=PRIOR, P=np.eye(3), Q=[0.1, 0.0, 0.2], omega=np.diag([0.01, 0.02, 0.03])
    )
    np.testing.assert_array_equal(identity.mu, explicit.mu)
    np.testing.assert_array_equal(identity.cov, explicit.cov)
    np.testing.assert_array_equal(identity.P, np.eye(3))
    assert black_litterman(DIAGONAL, pi=PRIOR, Q=[0.1, 0.0, 0.2], omega="default").mu == (
        pytest.approx(black_litterman(DIAGONAL, pi=PRIOR, Q=[0.1, 0.0, 0.2]).mu, abs=0)
    )


def test_to_dict_is_json_safe() -> None:
    result = black_litterman(DIAGONAL, pi=PRIOR, P=[1.0, 0.0, 0.0], Q=0.1)
    assert isinstance(result, BlackLittermanResult)
    payload = json.loads(json.dumps(result.to_dict()))
    assert set(payload) == {"mu", "cov", "prior", "omega", "P", "Q", "tau"}
    assert payload["mu"] == result.mu.tolist()
    assert payload["cov"] == result.cov.tolist()
    assert payload["tau"] == 0.05


def test_result_does_not_share_the_callers_arrays() -> None:
    pi, picking, views, omega = PRIOR.copy(), np.eye(3)[:1].copy(), np.array([0.1]), np.ones(1)
    for q in (views, np.array([])):
        p = picking if q.size else np.zeros((0, 3))
        result = black_litterman(DIAGONAL, pi=pi, P=p, Q=q, omega=omega[: q.size])
        for ours, theirs in ((result.prior, pi), (result.P, p), (result.Q, q)):
            assert not np.shares_memory(ours, theirs)
        assert not np.shares_memory(result.mu, pi)


def test_module_imports_without_scipy() -> None:
    """compute.views loads with numpy only (scipy is imported when a posterior is solved)."""
    code = (
        "import sys; sys.modules['scipy'] = None; import compute.views as v; "
        "print(v.implied_returns([[0.04, 0.0], [0.0, 0.09]], [1, 1]).tolist())"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    )
    assert completed.stdout.strip() == "[0.02, 0.045]"


# ----- properties ------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_assets=st.integers(2, 25),
    n_views=st.integers(1, 5),
    tau=st.floats(0.005, 1.0),
    full_omega=st.booleans(),
)
def test_he_litterman_equals_the_precision_form(
    seed: int, n_assets: int, n_views: int, tau: float, full_omega: bool
) -> None:
    """μ_BL = ((τΣ)⁻¹ + PᵀΩ⁻¹P)⁻¹((τΣ)⁻¹π + PᵀΩ⁻¹Q) and Σ_BL = Σ + ((τΣ)⁻¹ + PᵀΩ⁻¹P)⁻¹
    for an invertible Ω; the posterior covariance is symmetric PD, Σ ≼ Σ_BL ≼ (1 + τ)Σ."""
    n_views = min(n_views, n_assets)
    problem = _problem(seed, n_assets, n_views)
    rng = np.random.default_rng(seed + 1)
    if full_omega:
        root = rng.normal(0.0, 0.05, (n_views, n_views))
        omega = root @ root.T + np.diag(rng.uniform(1e-3, 1e-2, n_views))
    else:
        omega = np.diag(rng.uniform(1e-3, 1e-1, n_views))
    cov, pi, picking, views = problem["cov"], problem["pi"], problem["P"], problem["Q"]
    result = black_litterman(cov, pi=pi, P=picking, Q=views, omega=omega, tau=tau)

    prior_precision = np.linalg.inv(tau * cov)
    view_precision = np.linalg.inv(omega)
    precision = prior_precision + picking.T @ view_precision @ picking
    expected_mu = np.linalg.solve(
        precision, prior_precision @ pi + picking.T @ view_precision @ views
    )
    scale = max(1.0, float(np.max(np.abs(expected_mu))))
    np.testing.assert_allclose(result.mu, expected_mu, rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(
        result.cov, cov + np.linalg.inv(precision), rtol=0, atol=1e-9 * np.max(cov)
    )

    np.testing.assert_array_equal(result.cov, result.cov.T)
    assert np.min(np.linalg.eigvalsh(result.cov)) > 0.0
    size = float(np.max(np.abs(cov)))
    assert np.min(np.linalg.eigvalsh(result.cov - cov)) >= -1e-13 * size
    assert np.min(np.linalg.eigvalsh((1 + tau) * cov - result.cov)) >= -1e-13 * size


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_assets=st.integers(2, 20),
    n_views=st.integers(1, 4),
    confidences=st.lists(
        st.one_of(st.sampled_from([0.0, 1.0]), st.floats(1e-6, 1.0)), min_size=4, max_size=4
    ),
)
def test_idzorek_views_move_toward_the_views(
    seed: int, n_assets: int, n_views: int, confidences: list[float]
) -> None:
    """Any confidences: the certain views are met; the posterior cov stays PD and ≽ Σ."""
    n_views = min(n_views, n_assets)
    problem = _problem(seed, n_assets, n_views)
    chosen = confidences[:n_views]
    result = black_litterman(
        problem["cov"],
        pi=problem["pi"],
        P=problem["P"],
        Q=problem["Q"],
        omega="idzorek",
        view_confidences=chosen,
    )
    certain = np.array(chosen) == 1.0
    np.testing.assert_allclose(
        (problem["P"] @ result.mu)[certain], problem["Q"][certain], rtol=0, atol=1e-13
    )
    assert np.min(np.linalg.eigvalsh(result.cov)) > 0.0
    size = float(np.max(np.abs(problem["cov"])))
    assert np.min(np.linalg.eigvalsh(result.cov - problem["cov"])) >= -1e-13 * size


# ----- bad inputs ------------------------------------------------------------------------------

GOOD: dict[str, Any] = {"pi": PRIOR, "P": [[1.0, 0.0, 0.0]], "Q": [0.1]}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"Q": None}, "Q .* is required"),
        ({"Q": [[0.1]]}, "Q must be 1-dimensional"),
        ({"Q": [0.1, 0.2]}, "P must be K×N = 2×3"),
        ({"P": [[1.0, 0.0]]}, "P must be K×N = 1×3"),
        ({"P": [1.0, 0.0]}, "P must be K×N = 1×3"),
        ({"P": [[[1.0, 0.0, 0.0]]]}, "P must be 2-dimensional"),
        ({"P": None}, "P is required unless Q has a view on every asset"),
        ({"P": [[0.0, 0.0, 0.0]]}, r"rows \[0\] of P are all zero"),
        ({"P": [[1.0, np.nan, 0.0]]}, "P contains NaN"),
        ({"Q": [np.nan]}, "Q contains NaN"),
        ({"Q": ["a"]}, "Q must be numeric"),
        ({"pi": [0.1, 0.2]}, "pi must have length 3"),
        ({"pi": [0.1, np.inf, 0.2]}, "pi contains NaN"),
        ({"market_weights": [1.0, 1.0, 1.0]}, "either pi or market_weights"),
        ({"pi": None, "market_weights": [1.0, -1.0, 0.0]}, "positive sum"),
        ({"pi": None, "market_weights": [1.0, 1.0]}, "market_weights must have length 3"),
        ({"tau": 0.0}, "tau must be a positive"),
        ({"tau": -0.05}, "tau must be a positive"),
        ({"tau": 1.5}, r"tau must be in \(0, 1\]"),
        ({"tau": np.nan}, "tau must be a positive"),
        ({"risk_aversion": 0.0}, "risk_aversion must be a positive"),
        ({"omega": "idzorek"}, "needs view_confidences"),
        ({"omega": "idzorek", "view_confidences": [1.2]}, r"must lie in \[0, 1\]"),
        ({"omega": "idzorek", "view_confidences": [-0.1]}, r"must lie in \[0, 1\]"),
        ({"omega": "idzorek", "view_confidences": [np.nan]}, "view_confidences contains NaN"),
        ({"omega": "idzorek", "view_confidences": [5e-324]}, "Idzorek variance overflows"),
        ({"omega": "idzorek", "view_confidences": [0.5, 0.5]}, "must have length 1"),
        ({"view_confidences": [0.5]}, "only with omega='idzorek'"),
        ({"omega": [0.1], "view_confidences": [0.5]}, "only with omega='idzorek'"),
        ({"omega": "he-litterman"}, "omega must be 'default', 'idzorek'"),
        ({"omega": [[0.1, 0.0]]}, "omega must be K×K"),
        ({"omega": [0.1, 0.2]}, "omega must have length K = 1"),
        ({"omega": [[np.nan]]}, "omega contains NaN"),
    ],
)
def test_bad_inputs_raise_typed_errors(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        black_litterman(DIAGONAL, **{**GOOD, **changes})


@pytest.mark.parametrize(
    ("cov", "message"),
    [
        ([[0.04, 0.05], [0.05, 0.04]], "not positive definite"),  # indefinite
        ([[0.04, 0.04], [0.04, 0.04]], "not positive definite"),  # singular
        ([[-0.04, 0.0], [0.0, 0.04]], "negative variance"),
    ],
)
def test_covariance_must_be_positive_definite(cov: Any, message: str) -> None:
    with pytest.raises(NotPositiveDefiniteError, match=message):
        black_litterman(cov, P=[1.0, 0.0], Q=0.1)


@pytest.mark.parametrize(
    ("cov", "message"),
    [
        ([[0.04, np.nan], [np.nan, 0.04]], "cov contains NaN"),
        ([[0.04, 0.01], [0.0, 0.04]], "cov is not symmetric"),
        ([[0.04]], "at least 2 assets"),
        ([0.04, 0.04], "cov must be 2-dimensional"),
    ],
)
def test_covariance_shape_and_values(cov: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        black_litterman(cov, P=[1.0, 0.0], Q=0.1)
    with pytest.raises(InvalidInputError, match=message):
        implied_returns(cov, [0.5, 0.5])


def test_omega_must_be_symmetric_positive_semidefinite() -> None:
    views = {"pi": PRIOR, "P": np.eye(3)[:2], "Q": [0.1, 0.2]}
    with pytest.raises(NotPositiveDefiniteError, match="omega is not positive semi-definite"):
        black_litterman(DIAGONAL, omega=[[0.01, 0.02], [0.02, 0.01]], **views)
    with pytest.raises(NotPositiveDefiniteError, match="negative view variance"):
        black_litterman(DIAGONAL, omega=[0.01, -0.01], **views)
    with pytest.raises(InvalidInputError, match="omega is not symmetric"):
        black_litterman(DIAGONAL, omega=[[0.01, 0.001], [0.0, 0.01]], **views)


def test_certain_views_on_dependent_portfolios_are_an_error() -> None:
    """PyPortfolioOpt falls back to least squares when P τΣ Pᵀ + Ω is singular; we refuse."""
    twice = {"pi": PRIOR, "P": [[1.0, 0.0, 0.0], [2.0, 0.0, 0.0]], "Q": [0.1, 0.2]}
    with pytest.raises(InvalidInputError, match="linearly dependent"):
        black_litterman(DIAGONAL, omega="idzorek", view_confidences=[1.0, 1.0], **twice)
    # With an uncertainty on either view it is well posed.
    result = black_litterman(DIAGONAL, omega="idzorek", view_confidences=[1.0, 0.5], **twice)
    assert result.mu[0] == pytest.approx(0.1, abs=1e-15)


def test_implied_returns_bad_inputs() -> None:
    with pytest.raises(InvalidInputError, match="risk_aversion must be a positive"):
        implied_returns(DIAGONAL, [1, 1, 1], risk_aversion=-1.0)
    with pytest.raises(InvalidInputError, match="risk_free_rate must be finite"):
        implied_returns(DIAGONAL, [1, 1, 1], risk_free_rate=np.nan)
    with pytest.raises(InvalidInputError, match="market_weights contains NaN"):
        implied_returns(DIAGONAL, [1, np.nan, 1])
    with pytest.raises(InvalidInputError, match="positive sum"):
        implied_returns(DIAGONAL, [0, 0, 0])
