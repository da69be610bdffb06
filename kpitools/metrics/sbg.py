"""The shifted-beta-geometric (sBG) model of contractual retention.

Fader and Hardie, "How to project customer retention", Journal of Interactive
Marketing 21(1), 2007. Each customer churns at the end of a period with a
constant probability theta; theta varies across customers as Beta(alpha, beta).
Then, with t = 1, 2, ...

.. math::

    P(T = 1) = \\frac{\\alpha}{\\alpha + \\beta}, \\qquad
    P(T = t) = \\frac{\\beta + t - 2}{\\alpha + \\beta + t - 1} P(T = t - 1)

    S(t) = S(t - 1) - P(T = t), \\quad S(0) = 1, \\qquad
    r(t) = \\frac{S(t)}{S(t - 1)} = \\frac{\\beta + t - 1}{\\alpha + \\beta + t - 1}

and alpha, beta are estimated by maximum likelihood from the survivor counts
``n_0, n_1, ..., n_T`` of one or more cohorts: a cohort contributes
``(n_{t-1} - n_t) ln P(T = t)`` for each observed period and ``n_T ln S(T)`` for
those still alive (right-censored).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["SBG", "fit_sbg", "fit_sbg_cohorts"]


def _churn_and_survival(alpha: float, beta: float, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """P(T = t) and S(t) for t = 1..horizon (arrays of length ``horizon``)."""
    t = np.arange(1, horizon + 1, dtype=float)
    ratios = np.empty(horizon)
    ratios[0] = alpha / (alpha + beta)
    ratios[1:] = (beta + t[1:] - 2) / (alpha + beta + t[1:] - 1)
    p = np.cumprod(ratios)
    s = 1.0 - np.cumsum(p)
    return p, np.maximum(s, 1e-300)


def _sufficient(cohorts: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The counts the likelihood depends on, summed over cohorts: ``lost[t-1]`` customers
    lost at the end of period t, and ``alive[t-1]`` customers still there after the last
    observed period t (the right-censored)."""
    horizon = max(max(len(c) for c in cohorts) - 1, 1)
    lost, alive = np.zeros(horizon), np.zeros(horizon)
    for n in cohorts:  # once per fit, not per evaluation
        if len(n) < 2:
            continue
        lost[: len(n) - 1] += n[:-1] - n[1:]
        alive[len(n) - 2] += n[-1]
    return lost, alive


def _log_likelihood(alpha: float, beta: float, counts: tuple[np.ndarray, np.ndarray]) -> float:
    """LL = sum_t lost_t log P(T = t) + sum_t alive_t log S(t), over the summed counts."""
    lost, alive = counts
    p, s = _churn_and_survival(alpha, beta, len(lost))
    used = lost > 0  # 0 x log 0 counts as 0
    kept = alive > 0
    return float(np.dot(lost[used], np.log(p[used])) + np.dot(alive[kept], np.log(s[kept])))


@dataclass(frozen=True)
class SBG:
    """A fitted sBG model.

    Attributes
    ----------
    alpha, beta : float
        The Beta distribution of churn probabilities.
    log_likelihood : float
        At the estimate.
    n_cohorts, n_customers : int
        What it was fitted on.
    """

    alpha: float
    beta: float
    log_likelihood: float
    n_cohorts: int = 1
    n_customers: int = 0

    @property
    def params_(self) -> dict[str, float]:
        return {"alpha": self.alpha, "beta": self.beta}

    def survival(self, periods: int) -> np.ndarray:
        """S(0..periods): the share of a cohort still a customer after each period."""
        _, s = _churn_and_survival(self.alpha, self.beta, max(periods, 1))
        return np.concatenate([[1.0], s[:periods]])

    def retention(self, periods: int) -> np.ndarray:
        """r(1..periods): the share of last period's survivors who renew."""
        t = np.arange(1, periods + 1, dtype=float)
        return (self.beta + t - 1) / (self.alpha + self.beta + t - 1)

    def churn_probability(self, periods: int) -> np.ndarray:
        """P(T = 1..periods): the share of a cohort lost at the end of each period."""
        p, _ = _churn_and_survival(self.alpha, self.beta, max(periods, 1))
        return p[:periods]

    @property
    def homogeneous(self) -> bool:
        """True when the fit ran to the edge: every customer seems to churn alike (a
        geometric curve), so alpha and beta are not separately identified."""
        return max(self.alpha, self.beta) > 1e4

    @property
    def mean_churn_rate(self) -> float:
        """E[theta] = alpha / (alpha + beta): the churn of a new customer's first period."""
        return self.alpha / (self.alpha + self.beta)

    def median_lifetime(self, max_periods: int = 10_000) -> float:
        """Periods until half the cohort has gone (inf if not within ``max_periods``)."""
        s = self.survival(max_periods)
        below = np.flatnonzero(s <= 0.5)
        return float(below[0]) if len(below) else float("inf")

    def expected_lifetime(self, horizon: int) -> float:
        """Mean number of periods paid within ``horizon`` periods: sum of S(0..horizon-1).

        The untruncated mean is infinite when alpha <= 1, so a horizon is required.
        """
        return float(self.survival(horizon - 1).sum())

    def discounted_expected_lifetime(self, rate: float, *, tol: float = 1e-10) -> float:
        """DEL = sum over t >= 0 of S(t) / (1 + rate)^t: the present value of one unit paid
        each period while the customer stays (paid at the start of each period)."""
        if rate <= 0:
            raise ValueError("the discount rate per period must be positive")
        total, chunk, start = 0.0, 2048, 0
        while True:
            s = self.survival(start + chunk)[start:start + chunk]
            terms = s * np.exp(-np.log1p(rate) * np.arange(start, start + chunk))
            total += float(terms.sum())
            if terms[-1] < tol or start > 1_000_000:
                return total
            start += chunk

    def __repr__(self) -> str:
        return (f"SBG(alpha={self.alpha:.3f}, beta={self.beta:.3f}, "
                f"cohorts={self.n_cohorts}, customers={self.n_customers:,})")


def fit_sbg_cohorts(cohorts: Sequence[Sequence[float]]) -> SBG:
    """Fit one sBG model to several cohorts' survivor counts at once.

    Parameters
    ----------
    cohorts : sequence of sequences
        Each ``[n_0, n_1, ..., n_T]``: customers at acquisition and still
        customers after each period (non-increasing). Cohorts may differ in length.

    Raises
    ------
    ValueError
        Counts that increase, are negative, or leave nothing to fit.
    """
    arrays = [np.asarray(c, dtype=float) for c in cohorts]
    arrays = [a for a in arrays if len(a) >= 2 and a[0] > 0]
    if not arrays:
        raise ValueError("sBG needs at least one cohort with a size and one later period")
    for a in arrays:
        if (a < 0).any() or (np.diff(a) > 0).any():
            raise ValueError(f"survivor counts must be non-negative and non-increasing, got {a.tolist()}")
    if all(a[-1] == a[0] for a in arrays):
        raise ValueError("nobody churned: the churn distribution cannot be estimated")

    counts = _sufficient(arrays)
    scale = float(sum(a[0] for a in arrays))  # per customer: the tolerances below are then relative

    def objective(log_params: np.ndarray) -> float:
        if np.abs(log_params).max() > 12:  # alpha, beta beyond e^12: a geometric curve
            return 1e300
        a, b = np.exp(log_params)
        return -_log_likelihood(a, b, counts) / scale

    from scipy.optimize import minimize  # imported when a fit is made: scipy takes 0.4 s to load

    best = None
    for start in ([0.0, 0.0], [-1.0, 1.0], [1.0, 2.0]):
        result = minimize(objective, np.array(start), method="Nelder-Mead",
                          options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20_000})
        if best is None or result.fun < best.fun:
            best = result
    alpha, beta = np.exp(best.x)
    return SBG(float(alpha), float(beta), _log_likelihood(float(alpha), float(beta), counts), len(arrays),
               int(sum(a[0] for a in arrays)))


def fit_sbg(survivors: Sequence[float]) -> SBG:
    """Fit the sBG model to one cohort's survivor counts ``[n_0, n_1, ..., n_T]``.

    Examples
    --------
    The paper's 'regular' customers:

    >>> m = fit_sbg([1000, 631, 468, 382, 326, 289, 262, 241])
    >>> round(m.alpha, 3), round(m.beta, 3)
    (0.704, 1.182)
    """
    return fit_sbg_cohorts([survivors])
