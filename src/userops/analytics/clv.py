"""Customer value models: BG/NBD (Fader, Hardie & Lee 2005), Pareto/NBD (Schmittlein et al.
1987), MBG/NBD (Batislam et al. 2007) and Gamma–Gamma (Fader & Hardie 2013), implemented
with numpy/scipy (the lifetimes package is unmaintained).

Inputs follow the papers: per customer ``frequency`` x = repeat purchase days (distinct
purchase days − 1), ``recency`` t_x = time from the first to the last purchase day, ``T`` =
time from the first purchase day to the end of the calibration period (all in ``unit``
days, weeks by default), and for Gamma–Gamma ``monetary_value`` = the mean value of the
*repeat* purchase days. :func:`calibration_summary` builds them from the scan.

The estimators have the scikit-learn/lifelines shape: settings in ``__init__``, ``fit``
returns ``self``, learned values end in ``_`` (``params_``), predictions are Series indexed
like the input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from userops.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Sequence

    import numpy as np
    import pandas as pd

    from userops.io.normalise import LoadedOrders


def calibration_summary(loaded: "LoadedOrders", window, *, unit_days: float = 7.0) -> "pd.DataFrame":
    """Per customer with a purchase in the window: frequency, recency, T (in ``unit_days``)
    and monetary_value (mean of the repeat purchase days' values; NaN without repeats)."""
    import pandas as pd

    from userops.scan.customers import purchase_day_summary

    days = purchase_day_summary(loaded, window)
    as_of = pd.Timestamp(window.as_of)
    first = pd.to_datetime(days["first_day"])
    last = pd.to_datetime(days["last_day"])
    return pd.DataFrame(
        {
            "frequency": days["repeat_days"].to_numpy("int64"),
            "recency": ((last - first).dt.days / unit_days).to_numpy("float64"),
            "T": ((as_of - first).dt.days / unit_days).to_numpy("float64"),
            "monetary_value": days["repeat_mean_value"].to_numpy("float64"),
        },
        index=pd.Index(days["customer_id"], name="customer_id"),
    )


#: The least history a purchase model is fitted on: with fewer customers, repeat buyers or
#: weeks the likelihood is flat and the fit returns degenerate parameters, not a forecast.
MIN_CUSTOMERS = 100
MIN_REPEAT_BUYERS = 20
MIN_HISTORY_WEEKS = 8


def check_enough_history(summary: "pd.DataFrame", *, model: str, unit_days: float = 7.0, end: str = "the as-of date") -> None:
    """A DataError saying what is missing (customers, repeat buyers, weeks from the first
    purchase to ``end``) when ``summary`` is too little to fit ``model`` on."""
    customers = len(summary)
    repeat = int((summary["frequency"] > 0).sum()) if customers else 0
    weeks = float(summary["T"].max()) * unit_days / 7.0 if customers else 0.0
    missing = []
    if customers < MIN_CUSTOMERS:
        missing.append(f"{customers:,} customer{'' if customers == 1 else 's'} (needs {MIN_CUSTOMERS})")
    if repeat < MIN_REPEAT_BUYERS:
        missing.append(f"{repeat:,} repeat buyer{'' if repeat == 1 else 's'} (needs {MIN_REPEAT_BUYERS})")
    if weeks < MIN_HISTORY_WEEKS:
        missing.append(f"{weeks:.1f} weeks from the first purchase to {end} (needs {MIN_HISTORY_WEEKS})")
    if missing:
        raise DataError(
            f"too little history to fit {model}: {'; '.join(missing)}",
            hint="churn --survival and --cox need no purchase model; profile, segment and retention work on any size",
        )


#: A fitted parameter beyond these has run to a boundary of the likelihood (to 0 or to
#: infinity): the data cannot pin it down.
BOUNDARY_LOW, BOUNDARY_HIGH = 1e-4, 1e5


def parameters_on_boundary(params: dict[str, float]) -> list[str]:
    """The parameters of a fit that landed on a boundary, as ``name = value`` texts."""
    return [f"{name} = {value:.3g}" for name, value in params.items() if not BOUNDARY_LOW <= value <= BOUNDARY_HIGH]


def _fit(negative_ll, start: "np.ndarray", *, gradient: bool = True) -> "np.ndarray":
    """Minimise over log-parameters (keeps them positive). ``negative_ll`` returns the value
    and its gradient: L-BFGS-B with the exact gradient converges in tens of evaluations to
    the optimum (a numerical gradient and a Nelder–Mead polish took thousands: 4 s of the
    churn command on 1M order lines). Nelder–Mead is only the fallback when it does not
    converge (a flat surface). Without ``gradient`` it returns the value alone and
    L-BFGS-B differentiates it numerically."""
    import numpy as np
    from scipy.optimize import minimize

    def guarded(z: "np.ndarray") -> tuple[float, "np.ndarray"]:
        # a step far out (a degenerate fit heading to 0 or infinity) overflows: report it as
        # an infinitely bad point, which the line search backs away from, not as a warning
        with np.errstate(all="ignore"):
            value, grad = negative_ll(z) if gradient else (negative_ll(z), np.zeros_like(z))
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            return np.inf, np.zeros_like(z)
        return value, grad

    if gradient:
        quick = minimize(guarded, np.log(start), jac=True, method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 2000})
    else:
        quick = minimize(lambda z: guarded(z)[0], np.log(start), method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-8, "maxiter": 2000})
    if quick.success:
        return np.exp(quick.x)
    value = lambda z: guarded(z)[0]  # noqa: E731
    polished = minimize(value, quick.x, method="Nelder-Mead", options={"xatol": 1e-7, "fatol": 1e-7, "maxfev": 3000})
    x = polished.x if polished.fun <= quick.fun else quick.x
    return np.exp(x)


@dataclass
class BetaGeoModel:
    """BG/NBD: purchases while alive follow Poisson(λ), λ ~ Gamma(r, α); after each purchase
    the customer drops out with probability p, p ~ Beta(a, b)."""

    penalizer: float = 0.0

    def fit(self, summary: "pd.DataFrame") -> "BetaGeoModel":
        import numpy as np
        from scipy.special import digamma, gammaln

        if len(summary) < 2:
            raise DataError("BG/NBD needs at least two customers")
        # customers with the same (x, t_x, T) share a likelihood term: fit on the distinct
        # triples, weighted by how many customers have each (~3x fewer terms on daily data)
        x, tx, T, weight = _distinct_triples(summary)
        repeat = x > 0
        # frequency, recency and T each take few distinct values: the special functions are
        # evaluated once per value and gathered (the same numbers, a fraction of the work)
        x_values, x_at = np.unique(x, return_inverse=True)
        T_values, T_at = np.unique(T, return_inverse=True)
        tx_values, tx_at = np.unique(tx, return_inverse=True)

        def negative_ll(log_params: "np.ndarray") -> tuple[float, "np.ndarray"]:
            r, alpha, a, b = np.exp(log_params)
            a1 = gammaln(r + x_values)[x_at] - gammaln(r) + r * np.log(alpha)
            a2 = gammaln(a + b) + (gammaln(b + x_values) - gammaln(a + b + x_values))[x_at] - gammaln(b)
            la_T, la_tx = np.log(alpha + T_values)[T_at], np.log(alpha + tx_values)[tx_at]
            b_x1 = np.maximum(b + x - 1, 1e-12)
            a3 = -(r + x) * la_T
            a4 = np.where(repeat, np.log(a) - np.log(b_x1) - (r + x) * la_tx, -np.inf)
            both = np.logaddexp(a3, a4)
            ll = a1 + a2 + both
            # the share of each branch (alive at T / dropped out after t_x) in the likelihood
            w3 = np.exp(a3 - both)
            w4 = np.where(repeat, np.exp(a4 - both), 0.0)
            psi_abx = digamma(a + b + x_values)[x_at]
            d_r = digamma(r + x_values)[x_at] - digamma(r) + np.log(alpha) - w3 * la_T - w4 * la_tx
            d_alpha = r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (alpha + tx)
            d_a = digamma(a + b) - psi_abx + w4 / a
            d_b = digamma(a + b) + digamma(b + x_values)[x_at] - digamma(b) - psi_abx - w4 / b_x1
            params = np.array([r, alpha, a, b])
            grad = -np.array([weight @ d_r, weight @ d_alpha, weight @ d_a, weight @ d_b]) * params
            value = -float(weight @ ll) + self.penalizer * float(np.sum(params**2))
            return value, grad + 2 * self.penalizer * params**2

        r, alpha, a, b = _fit(negative_ll, np.array([1.0, 1.0, 1.0, 1.0]))
        self.params_ = {"r": float(r), "alpha": float(alpha), "a": float(a), "b": float(b)}
        self.log_likelihood_ = float(-negative_ll(np.log([r, alpha, a, b]))[0])
        return self

    def _pieces(self, summary: "pd.DataFrame"):
        import numpy as np

        p = self.params_
        x = summary["frequency"].to_numpy("float64")
        tx = summary["recency"].to_numpy("float64")
        T = summary["T"].to_numpy("float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(x > 0, (p["a"] / (p["b"] + x - 1)) * ((p["alpha"] + T) / (p["alpha"] + tx)) ** (p["r"] + x), 0.0)
        return p, x, tx, T, d

    def conditional_probability_alive(self, summary: "pd.DataFrame") -> "pd.Series":
        """P(alive | x, t_x, T) = 1 / (1 + δ(x>0) · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))."""
        import pandas as pd

        _, _, _, _, d = self._pieces(summary)
        return pd.Series(1.0 / (1.0 + d), index=summary.index, name="p_alive")

    def conditional_probability_of_no_purchase(self, t: float, summary: "pd.DataFrame") -> "pd.Series":
        """P(no purchase in the next ``t`` units | x, t_x, T). A customer drops out only right
        after a purchase, so none in the interval means: inactive already, or active with no
        purchase at the posterior rate λ | alive ~ Gamma(r + x, α + T):
        1 − P(alive) + P(alive) · ((α + T) / (α + T + t))^(r + x)."""
        import pandas as pd

        p, x, tx, T, d = self._pieces(summary)
        alive = 1.0 / (1.0 + d)
        quiet = ((p["alpha"] + T) / (p["alpha"] + T + t)) ** (p["r"] + x)
        return pd.Series(1.0 - alive + alive * quiet, index=summary.index, name="p_no_purchase")

    def median_time_to_next_purchase(self, summary: "pd.DataFrame", cap: float) -> "np.ndarray":
        """The time (in the summary's units) by which the next purchase has an even chance,
        NaN when that is past ``cap`` or never (see :func:`_median_wait_dropout_model`)."""
        p, x, _, T, d = self._pieces(summary)
        return _median_wait_dropout_model(1.0 / (1.0 + d), x, T, p["r"], p["alpha"], cap)

    def finds_no_dropout(self) -> bool:
        """The fit is degenerate: the dropout probability p ~ Beta(a, b) is about 0 for everyone
        (a → 0), so P(alive) is 1 whatever the customer did."""
        a, b = self.params_["a"], self.params_["b"]
        return a < 1e-3 or a / (a + b) < 1e-4

    def purchase_count_pmf(self, t: float, summary: "pd.DataFrame") -> "np.ndarray":
        """P(Y(t) = y | x, t_x, T) for y = 0, 1, … (rows) and each customer (columns)."""
        pmf, column = self.purchase_count_distribution(t, summary)
        return pmf[:, column]

    def purchase_count_distribution(self, t: float, summary: "pd.DataFrame") -> "CountDistribution":
        """:func:`dropout_count_pmf` with dropout after each purchase, p | alive ~ Beta(a, b + x)."""
        p = self.params_
        alive = self.conditional_probability_alive(summary).to_numpy("float64")
        return dropout_count_pmf(alive, summary, t, p["r"], p["alpha"], p["a"], p["b"])

    def conditional_expected_number_of_purchases_up_to_time(self, t: float, summary: "pd.DataFrame") -> "pd.Series":
        """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` units (FHL 2005, eq. 10)."""
        import pandas as pd

        return pd.Series(self.expected_purchases([t], summary)[0], index=summary.index, name="expected_purchases")

    def expected_purchases(self, ts: "Sequence[float]", summary: "pd.DataFrame") -> "np.ndarray":
        """E[Y(t) | x, t_x, T] for each of ``ts`` (rows) and each customer (columns): the
        distinct customers are found once for every t (CLV asks for one t per month)."""
        import numpy as np
        from scipy.special import hyp2f1

        p, x, tx, T, d = self._pieces(summary)
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        # the hypergeometric term depends on (x, T) alone, which few customers do not share:
        # evaluated once per distinct pair (x is a whole count, T at most a few thousand units)
        pair, at = np.unique(x * (np.max(T, initial=0.0) + 1.0) + T, return_index=True, return_inverse=True)[1:]
        xu, Tu = x[pair], T[pair]
        out = np.empty((len(ts), len(x)))
        for row, t in enumerate(ts):
            z = t / (alpha + Tu + t)
            tail = (1 - ((alpha + Tu) / (alpha + Tu + t)) ** (r + xu) * hyp2f1(r + xu, b + xu, a + b + xu - 1, z))[at]
            with np.errstate(divide="ignore", invalid="ignore"):  # a = 1 (a fit stuck at its start): no finite value, blank
                out[row] = (a + b + x - 1) / (a - 1) * tail / (1 + d)
        return out


@dataclass
class GammaGammaModel:
    """Gamma–Gamma spend: a customer's transaction values are Gamma(p, ν), ν ~ Gamma(q, γ);
    fitted on customers with repeat purchases (x ≥ 1) and the mean of those repeats."""

    penalizer: float = 0.0

    def fit(self, summary: "pd.DataFrame") -> "GammaGammaModel":
        import numpy as np
        from scipy.special import digamma, gammaln

        x = summary["frequency"].to_numpy("float64")
        m = summary["monetary_value"].to_numpy("float64")
        repeat = (x > 0) & (m > 0)
        if int(repeat.sum()) < 2:
            raise DataError("Gamma–Gamma needs at least two customers with repeat purchases")
        x, m = x[repeat], m[repeat]

        log_m, log_x = np.log(m), np.log(x)
        mx = m * x
        x_values, x_at = np.unique(x, return_inverse=True)  # few: special functions once per value

        def negative_ll(log_params: "np.ndarray") -> tuple[float, "np.ndarray"]:
            p, q, g = np.exp(log_params)
            px = p * x
            px_values = p * x_values
            log_gmx = np.log(g + mx)
            ll = (gammaln(px_values + q) - gammaln(px_values))[x_at] - gammaln(q) + q * np.log(g) + (px - 1) * log_m + px * log_x - (px + q) * log_gmx
            psi = digamma(px_values + q)[x_at]
            d_p = x * (psi - digamma(px_values)[x_at] + log_m + log_x - log_gmx)
            d_q = psi - digamma(q) + np.log(g) - log_gmx
            d_g = q / g - (px + q) / (g + mx)
            params = np.array([p, q, g])
            grad = -np.array([d_p.sum(), d_q.sum(), d_g.sum()]) * params
            return -float(ll.sum()) + self.penalizer * float(np.sum(params**2)), grad + 2 * self.penalizer * params**2

        p, q, g = _fit(negative_ll, np.array([1.0, 1.0, 1.0]))
        self.params_ = {"p": float(p), "q": float(q), "v": float(g)}
        self.n_customers_ = int(len(x))
        return self

    def conditional_expected_average_profit(self, summary: "pd.DataFrame") -> "pd.Series":
        """E[M | x, m_x]: a weighted mean of the population mean p·γ/(q−1) and the customer's
        own mean m_x (customers without repeats get the population mean)."""
        import numpy as np
        import pandas as pd

        p, q, g = self.params_["p"], self.params_["q"], self.params_["v"]
        x = summary["frequency"].to_numpy("float64")
        m = np.nan_to_num(summary["monetary_value"].to_numpy("float64"))
        population = p * g / (q - 1)
        weight = (q - 1) / (p * x + q - 1)
        return pd.Series(weight * population + (1 - weight) * m, index=summary.index, name="expected_order_value")


def _distinct_triples(summary: "pd.DataFrame") -> tuple["np.ndarray", "np.ndarray", "np.ndarray", "np.ndarray"]:
    """frequency, recency and T of the distinct (x, t_x, T) triples and how many customers
    have each: customers sharing a triple share a likelihood term."""
    triples = summary.groupby(["frequency", "recency", "T"], sort=True).size().reset_index(name="n")
    return tuple(triples[c].to_numpy("float64") for c in ("frequency", "recency", "T", "n"))


def _fit_likelihood(
    log_likelihood, summary: "pd.DataFrame", names: tuple[str, ...], penalizer: float, model: str
) -> tuple[dict[str, float], float]:
    """The parameters (``names``) that maximise ``log_likelihood(params, x, t_x, T)`` over
    the customers (their distinct triples, weighted), and the log-likelihood there."""
    import numpy as np

    if len(summary) < 2:
        raise DataError(f"{model} needs at least two customers")
    x, tx, T, weight = _distinct_triples(summary)

    def negative_ll(log_params: "np.ndarray") -> float:
        params = np.exp(log_params)
        return -float(weight @ log_likelihood(params, x, tx, T)) + penalizer * float(np.sum(params**2))

    fitted = _fit(negative_ll, np.ones(len(names)), gradient=False)
    return dict(zip(names, (float(v) for v in fitted))), float(weight @ log_likelihood(fitted, x, tx, T))


def _pairs(a: "np.ndarray", b: "np.ndarray") -> tuple["np.ndarray", "np.ndarray", "np.ndarray"]:
    """The distinct (a, b) pairs (as two arrays) and where each row's pair is."""
    import numpy as np

    pairs, at = np.unique(np.column_stack([a, b]), axis=0, return_inverse=True)
    return pairs[:, 0], pairs[:, 1], np.asarray(at).ravel()


@dataclass
class ParetoNBDModel:
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987; the likelihood as in Fader, Hardie &
    Lee 2005, "A note on deriving the Pareto/NBD model"): purchases while alive follow
    Poisson(λ), λ ~ Gamma(r, α); the lifetime is exponential(μ), μ ~ Gamma(s, β), so a
    customer may leave at any time, not only right after a purchase."""

    penalizer: float = 0.0

    def fit(self, summary: "pd.DataFrame") -> "ParetoNBDModel":
        import numpy as np
        from scipy.special import digamma, gammaln

        if len(summary) < 2:
            raise DataError("Pareto/NBD needs at least two customers")
        x, tx, T, weight = _distinct_triples(summary)
        pairs = self._pair_index(x, tx, T)
        (x1, tx1, at_tx), (x2, T2, at_T) = pairs

        def negative_ll(log_params: "np.ndarray") -> tuple[float, "np.ndarray"]:
            """The value and its gradient. Per pair (x, T) and (x, t_x): the log terms and
            their derivatives — exact for the closed-form parts, central differences for
            the hypergeometric integral (on the few thousand pairs: cheap, and far more
            precise than differencing the whole sum). Per triple only the chain rule."""
            params = np.exp(log_params)
            r, alpha, s, beta = params

            def head(xs: "np.ndarray") -> tuple["np.ndarray", list["np.ndarray"]]:
                value = gammaln(r + xs) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + np.log(s)
                ones = np.ones_like(xs)
                return value, [digamma(r + xs) - digamma(r) + np.log(alpha), ones * r / alpha, ones * (np.log(beta) + 1.0 / s), ones * s / beta]

            def integral(xs: "np.ndarray", times: "np.ndarray") -> tuple["np.ndarray", list["np.ndarray"]]:
                value = self._log_terms(params, xs, times)
                slopes = []
                for k in range(4):
                    step = np.zeros(4)
                    step[k] = params[k] * 1e-5
                    slopes.append((self._log_terms(params + step, xs, times) - self._log_terms(params - step, xs, times)) / (2 * step[k]))
                return value, slopes

            head_T, d_head_T = head(x2)
            head_tx, d_head_tx = head(x1)
            log_aT, log_bT = np.log(alpha + T2), np.log(beta + T2)
            alive_p = head_T - np.log(s) - (r + x2) * log_aT - s * log_bT
            d_alive_p = [d_head_T[0] - log_aT, d_head_T[1] - (r + x2) / (alpha + T2), d_head_T[2] - 1.0 / s - log_bT, d_head_T[3] - s / (beta + T2)]
            int_T, d_int_T = integral(x2, T2)
            int_tx, d_int_tx = integral(x1, tx1)
            alive = alive_p[at_T]
            from_T = (head_T + int_T)[at_T]
            from_tx = (head_tx + int_tx)[at_tx]
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                gap = from_T - from_tx  # <= 0; 0 when t_x = T (no dropout term)
                left = from_tx + np.log(-np.expm1(gap))
                ll = np.logaddexp(alive, left)
                w_alive = np.exp(alive - ll)
                w_left = np.where(np.isfinite(left), np.exp(left - ll), 0.0)
                # d left = (d from_tx − e^gap · d from_T) / (1 − e^gap)
                share = np.where(np.isfinite(left), np.exp(gap) / -np.expm1(gap), 0.0)
            grad = np.empty(4)
            for k in range(4):
                d_from_T = (d_head_T[k] + d_int_T[k])[at_T]
                d_from_tx = (d_head_tx[k] + d_int_tx[k])[at_tx]
                d_left = np.where(w_left > 0, d_from_tx + share * (d_from_tx - d_from_T), 0.0)
                grad[k] = weight @ (w_alive * d_alive_p[k][at_T] + w_left * d_left)
            value = -float(weight @ ll) + self.penalizer * float(np.sum(params**2))
            return value, -grad * params + 2 * self.penalizer * params**2

        fitted = _fit(negative_ll, np.ones(4))
        self.params_ = dict(zip(("r", "alpha", "s", "beta"), (float(v) for v in fitted)))
        self.log_likelihood_ = float(weight @ self._log_likelihood(fitted, x, tx, T, pairs=pairs))
        return self

    @staticmethod
    def _pair_index(x: "np.ndarray", tx: "np.ndarray", T: "np.ndarray") -> tuple:
        """The distinct (x, t_x) and (x, T) pairs: each hypergeometric term depends on one of
        them, and there are far fewer of either than customers or triples (on 1M order lines
        6,672 and 7,255 against 96,359 triples)."""
        return _pairs(x, tx), _pairs(x, T)

    @staticmethod
    def _log_terms(params: "np.ndarray", xs: "np.ndarray", times: "np.ndarray") -> "np.ndarray":
        """log of ∫_t^∞ (α+τ)^-(r+x) (β+τ)^-(s+1) dτ for each (x, t) pair: a Gauss
        hypergeometric term, taken on the side of the larger of α and β (where its series
        converges). A0 of the likelihood is this at t_x less this at T."""
        import numpy as np
        from scipy.special import hyp2f1

        r, alpha, s, beta = params
        high, low = max(alpha, beta), min(alpha, beta)
        rsx = r + s + xs
        b_arg = r + xs if alpha < beta else s + 1.0
        return np.log(hyp2f1(rsx, b_arg, rsx + 1.0, (high - low) / (high + times))) - rsx * np.log(high + times) - np.log(rsx)

    @classmethod
    def _log_a0(cls, params: "np.ndarray", x: "np.ndarray", tx: "np.ndarray", T: "np.ndarray", pairs=None) -> "np.ndarray":
        """log A0 of the likelihood (times r + s + x): the integral from t_x to T, each
        hypergeometric term evaluated once per distinct pair (``pairs``: from
        :meth:`_pair_index`)."""
        import numpy as np

        (x1, tx1, at_tx), (x2, T2, at_T) = pairs if pairs is not None else (_pairs(x, tx), _pairs(x, T))
        from_tx = cls._log_terms(params, x1, tx1)[at_tx]
        from_T = cls._log_terms(params, x2, T2)[at_T]
        # A0 integrates a positive function: the term at t_x is the larger (t_x = T: A0 = 0)
        with np.errstate(divide="ignore"):
            return from_tx + np.log(-np.expm1(from_T - from_tx)) + np.log(params[0] + params[2] + x)

    @classmethod
    def _log_likelihood(cls, params: "np.ndarray", x: "np.ndarray", tx: "np.ndarray", T: "np.ndarray", pairs=None) -> "np.ndarray":
        """Per (x, t_x, T): log of Γ(r+x) α^r β^s / Γ(r) · [(α+T)^-(r+x) (β+T)^-s + s · ∫_{t_x}^T
        (α+τ)^-(r+x) (β+τ)^-(s+1) dτ]. Everything that depends on two of the three is computed
        once per distinct pair and gathered: the per-triple work is a handful of operations."""
        import numpy as np
        from scipy.special import gammaln

        r, alpha, s, beta = params
        (x1, tx1, at_tx), (x2, T2, at_T) = pairs if pairs is not None else (_pairs(x, tx), _pairs(x, T))
        log_head = lambda xs: gammaln(r + xs) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + np.log(s)  # noqa: E731
        # per (x, T): the alive branch, and the dropout branch's term at T; per (x, t_x): its term at t_x
        alive = (log_head(x2) - np.log(s) - (r + x2) * np.log(alpha + T2) - s * np.log(beta + T2))[at_T]
        from_T = (log_head(x2) + cls._log_terms(params, x2, T2))[at_T]
        from_tx = (log_head(x1) + cls._log_terms(params, x1, tx1))[at_tx]
        with np.errstate(divide="ignore"):
            left = from_tx + np.log(-np.expm1(from_T - from_tx))
        return np.logaddexp(alive, left)

    def _arrays(self, summary: "pd.DataFrame"):
        import numpy as np

        p = self.params_
        params = np.array([p["r"], p["alpha"], p["s"], p["beta"]])
        return params, summary["frequency"].to_numpy("float64"), summary["recency"].to_numpy("float64"), summary["T"].to_numpy("float64")

    def _p_alive(self, params, x, tx, T) -> "np.ndarray":
        import numpy as np

        r, alpha, s, beta = params
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + T) + s * np.log(beta + T) + self._log_a0(params, x, tx, T)))

    def conditional_probability_alive(self, summary: "pd.DataFrame") -> "pd.Series":
        """P(alive at T | x, t_x, T)."""
        import pandas as pd

        return pd.Series(self._p_alive(*self._arrays(summary)), index=summary.index, name="p_alive")

    def expected_purchases(self, ts: "Sequence[float]", summary: "pd.DataFrame") -> "np.ndarray":
        """E[Y(t) | x, t_x, T] = P(alive) · (r+x)(β+T) / ((α+T)(s−1)) · (1 − ((β+T)/(β+T+t))^(s−1))
        for each of ``ts`` (rows) and each customer (columns)."""
        import numpy as np

        params, x, tx, T = self._arrays(summary)
        r, alpha, s, beta = params
        alive = self._p_alive(params, x, tx, T)
        rate = (r + x) * (beta + T) / (alpha + T)
        out = np.empty((len(ts), len(x)))
        for row, t in enumerate(ts):
            # (1 − q^(s−1)) / (s−1), which tends to −log q as s → 1
            q = (beta + T) / (beta + T + t)
            share = -np.expm1((s - 1) * np.log(q)) / (s - 1) if abs(s - 1) > 1e-9 else -np.log(q)
            out[row] = alive * rate * share
        return out

    def conditional_expected_number_of_purchases_up_to_time(self, t: float, summary: "pd.DataFrame") -> "pd.Series":
        import pandas as pd

        return pd.Series(self.expected_purchases([t], summary)[0], index=summary.index, name="expected_purchases")

    def purchase_count_pmf(self, t: float, summary: "pd.DataFrame") -> "np.ndarray":
        """P(Y(t) = y | x, t_x, T) for y = 0, 1, … (rows) and each customer (columns)."""
        pmf, column = self.purchase_count_distribution(t, summary)
        return pmf[:, column]

    def purchase_count_distribution(self, t: float, summary: "pd.DataFrame") -> "CountDistribution":
        """The count distribution of each kind of customer, and each customer's kind. Given
        alive, λ ~ Gamma(r + x, α + T) and μ ~ Gamma(s, β + T), independent; with the lifetime
        left τ ~ Exp(μ), y purchases need the y-th Poisson arrival before both τ and t:

            P(Y ≥ y | λ, μ) = (λ / (λ + μ))^y · P(Poisson((λ + μ) t) ≥ y)

        averaged over λ and μ by generalised Gauss–Laguerre quadrature (QUADRATURE_NODES per
        axis, exact for the Gamma weights; the mean matches the closed form to 1e-12), once
        per distinct (x, T). Rows and columns as :func:`dropout_count_pmf`."""
        tails, kind = self._count_tails(t, summary, MAX_COUNT)
        return _pmf_of_tails(tails), kind

    def _count_tails(self, t: float, summary: "pd.DataFrame", max_count: int) -> "CountDistribution":
        """P(Y(t) ≥ y) for y = 0 … at most ``max_count`` (rows) by kind of customer, and each
        customer's kind (see :meth:`purchase_count_distribution`)."""
        import numpy as np
        from scipy.special import gammainc, gammaln, roots_genlaguerre

        params, x, tx, T = self._arrays(summary)
        r, alpha, s, beta = params
        alive = self._p_alive(params, x, tx, T)
        pairs, at = np.unique(np.column_stack([x, T]), axis=0, return_inverse=True)
        at = np.asarray(at).ravel()
        v, wv = roots_genlaguerre(QUADRATURE_NODES, s - 1)
        wv = wv * np.exp(-gammaln(s))
        tails_of: dict[float, list] = {}
        for x_value in np.unique(pairs[:, 0]):
            in_group = pairs[:, 0] == x_value
            Tg = pairs[in_group, 1]
            u, wu = roots_genlaguerre(QUADRATURE_NODES, r + x_value - 1)
            wu = wu * np.exp(-gammaln(r + x_value))
            lam = u[:, None, None] / (alpha + Tg)[None, None, :]
            mu = v[None, :, None] / (beta + Tg)[None, None, :]
            weight = (wu[:, None] * wv[None, :])[:, :, None]
            rate = lam + mu
            share = lam / rate
            tails = [np.ones(len(Tg))]
            for y in range(1, max_count + 1):
                tails.append((weight * share**y * gammainc(y, rate * t)).sum(axis=(0, 1)))
                if tails[-1].max(initial=0.0) < 1e-12:
                    break
            tails_of[float(x_value)] = [np.where(in_group)[0], np.vstack(tails)]
        rows = max(len(t_) for _, t_ in tails_of.values())
        alive_tails = np.zeros((rows, len(pairs)))
        for index, tails in tails_of.values():
            alive_tails[: len(tails), index] = tails
        kinds, kind_of = np.unique(np.column_stack([at, alive]), axis=0, return_inverse=True)
        tails = alive_tails[:, kinds[:, 0].astype("int64")] * kinds[:, 1]
        tails[0] = 1.0
        return tails, np.asarray(kind_of).ravel()

    def median_time_to_next_purchase(self, summary: "pd.DataFrame", cap: float) -> "np.ndarray":
        """The time (in the summary's units) by which the next purchase has an even chance, NaN
        when that is past ``cap`` or never. Given alive, the next purchase comes before the
        customer leaves and before t with probability E[λ/(λ+μ) · (1 − e^(−(λ+μ)t))] over the
        posteriors λ ~ Gamma(r + x, α + T), μ ~ Gamma(s, β + T) (Gauss–Laguerre, as the count
        distribution); it is found on a grid of WAIT_GRID times from cap/365 to cap, spaced
        evenly in log time, per distinct (x, T), and interpolated linearly between its points."""
        import numpy as np
        from scipy.special import gammaln, roots_genlaguerre

        params, x, tx, T = self._arrays(summary)
        r, alpha, s, beta = params
        alive = self._p_alive(params, x, tx, T)
        pairs, at = np.unique(np.column_stack([x, T]), axis=0, return_inverse=True)
        at = np.asarray(at).ravel()
        grid = np.geomspace(cap / 365.0, cap, WAIT_GRID)
        v, wv = roots_genlaguerre(WAIT_NODES, s - 1)
        wv = wv * np.exp(-gammaln(s))
        bought = np.empty((len(pairs), WAIT_GRID))  # P(next purchase by each grid time | alive)
        for x_value in np.unique(pairs[:, 0]):
            rows = np.where(pairs[:, 0] == x_value)[0]
            Tg = pairs[rows, 1]
            u, wu = roots_genlaguerre(WAIT_NODES, r + x_value - 1)
            wu = wu * np.exp(-gammaln(r + x_value))
            lam = u[:, None, None] / (alpha + Tg)[None, None, :]
            mu = v[None, :, None] / (beta + Tg)[None, None, :]
            weight = (wu[:, None] * wv[None, :])[:, :, None] * lam / (lam + mu)
            rate = (lam + mu).reshape(-1, len(Tg))
            weight = weight.reshape(-1, len(Tg))
            bought[rows] = np.einsum("kj,kjm->jm", weight, -np.expm1(-rate[:, :, None] * grid[None, None, :]))
        return _first_crossing(bought, at, 0.5 / np.maximum(alive, 1e-300), grid)

    def conditional_probability_of_no_purchase(self, t: float, summary: "pd.DataFrame") -> "pd.Series":
        """P(no purchase in the next ``t`` units | x, t_x, T): the count distribution at 0,
        1 − P(Y ≥ 1) (only that tail is computed)."""
        import pandas as pd

        tails, kind = self._count_tails(t, summary, 1)
        return pd.Series((1.0 - tails[1])[kind], index=summary.index, name="p_no_purchase")


#: Pareto/NBD's wait for the next purchase: quadrature nodes per parameter, and grid times.
WAIT_NODES = 16
WAIT_GRID = 96


def _first_crossing(curves: "np.ndarray", row_of: "np.ndarray", target: "np.ndarray", grid: "np.ndarray") -> "np.ndarray":
    """For each customer i, the first time on ``grid`` at which the increasing curve
    ``curves[row_of[i]]`` reaches ``target[i]``, interpolated linearly from the point before
    (from 0 at time 0); NaN when it does not by the grid's end. In blocks of customers (a
    customer-by-grid matrix of millions of rows would not fit)."""
    import numpy as np

    out = np.full(len(row_of), np.nan)
    times = np.concatenate([[0.0], grid])
    for start in range(0, len(row_of), 65536):
        block = slice(start, start + 65536)
        values = np.concatenate([np.zeros((len(row_of[block]), 1)), curves[row_of[block]]], axis=1)
        want = target[block]
        reached = values >= want[:, None]
        hit = reached.any(axis=1)
        k = np.argmax(reached, axis=1)  # the first grid point at or past the target
        k = np.maximum(k, 1)
        rows = np.arange(len(k))
        lo, hi = values[rows, k - 1], values[rows, k]
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.clip((want - lo) / (hi - lo), 0.0, 1.0)
        out[block] = np.where(hit, times[k - 1] + share * (times[k] - times[k - 1]), np.nan)
    return out


def _median_wait_dropout_model(alive: "np.ndarray", x: "np.ndarray", T: "np.ndarray", r: float, alpha: float, cap: float) -> "np.ndarray":
    """BG/NBD and MBG/NBD: a customer leaves only right after a purchase, so the next purchase
    comes by t with probability P(alive) · (1 − ((α+T)/(α+T+t))^(r+x)). It reaches one half at

        t = (α + T) · ((1 − 1 / (2 P(alive)))^(−1/(r+x)) − 1)

    when P(alive) > 1/2, and never otherwise. NaN past ``cap`` or never."""
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        wait = (alpha + T) * np.expm1(-np.log1p(-0.5 / alive) / (r + x))
    return np.where((alive > 0.5) & (wait <= cap), wait, np.nan)


#: Quadrature nodes per parameter for Pareto/NBD's count distribution (24 agree with 64 to
#: 1e-12 on CDNOW's customers; 16 to 2e-8).
QUADRATURE_NODES = 24


@dataclass
class ModifiedBetaGeoModel:
    """MBG/NBD (Batislam, Denizel & Filiztekin 2007): BG/NBD in which a customer may also
    drop out at time 0, right after the first purchase, so a one-time buyer is not certain
    to be alive (BG/NBD gives every customer without repeats P(alive) = 1)."""

    penalizer: float = 0.0

    def fit(self, summary: "pd.DataFrame") -> "ModifiedBetaGeoModel":
        import numpy as np
        from scipy.special import digamma, gammaln

        if len(summary) < 2:
            raise DataError("MBG/NBD needs at least two customers")
        x, tx, T, weight = _distinct_triples(summary)
        # the special functions once per distinct frequency, gathered (as in BG/NBD)
        x_values, x_at = np.unique(x, return_inverse=True)

        def negative_ll(log_params: "np.ndarray") -> tuple[float, "np.ndarray"]:
            r, alpha, a, b = np.exp(log_params)
            la_T, la_tx = np.log(alpha + T), np.log(alpha + tx)
            a1 = (gammaln(r + x_values) - gammaln(r))[x_at] + r * np.log(alpha)
            a2 = gammaln(a + b) - gammaln(b) + (gammaln(b + x_values + 1) - gammaln(a + b + x_values + 1))[x_at]
            a4 = np.log(a) - np.log(b + x) + (r + x) * (la_T - la_tx)
            ll = a1 + a2 - (r + x) * la_T + np.logaddexp(a4, 0.0)
            w4 = np.exp(a4 - np.logaddexp(a4, 0.0))  # the share of "dropped out after t_x"
            psi_abx = digamma(a + b + x_values + 1)[x_at]
            d_r = (digamma(r + x_values) - digamma(r))[x_at] + np.log(alpha) - la_T + w4 * (la_T - la_tx)
            d_alpha = r / alpha - (r + x) / (alpha + T) + w4 * (r + x) * (1.0 / (alpha + T) - 1.0 / (alpha + tx))
            d_a = digamma(a + b) - psi_abx + w4 / a
            d_b = digamma(a + b) - digamma(b) + digamma(b + x_values + 1)[x_at] - psi_abx - w4 / (b + x)
            params = np.array([r, alpha, a, b])
            grad = -np.array([weight @ d_r, weight @ d_alpha, weight @ d_a, weight @ d_b]) * params
            value = -float(weight @ ll) + self.penalizer * float(np.sum(params**2))
            return value, grad + 2 * self.penalizer * params**2

        fitted = _fit(negative_ll, np.ones(4))
        self.params_ = dict(zip(("r", "alpha", "a", "b"), (float(v) for v in fitted)))
        self.log_likelihood_ = float(weight @ self._log_likelihood(fitted, x, tx, T))
        return self

    @staticmethod
    def _log_likelihood(params: "np.ndarray", x: "np.ndarray", tx: "np.ndarray", T: "np.ndarray") -> "np.ndarray":
        import numpy as np
        from scipy.special import gammaln

        r, alpha, a, b = params
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        a2 = gammaln(a + b) + gammaln(b + x + 1) - gammaln(b) - gammaln(a + b + x + 1)
        a3 = -(r + x) * np.log(alpha + T)
        a4 = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        return a1 + a2 + a3 + np.logaddexp(a4, 0.0)

    def _pieces(self, summary: "pd.DataFrame"):
        p = self.params_
        x = summary["frequency"].to_numpy("float64")
        tx = summary["recency"].to_numpy("float64")
        T = summary["T"].to_numpy("float64")
        # the odds of having dropped out against being alive, for every customer
        d = (p["a"] / (p["b"] + x)) * ((p["alpha"] + T) / (p["alpha"] + tx)) ** (p["r"] + x)
        return p, x, tx, T, d

    def conditional_probability_alive(self, summary: "pd.DataFrame") -> "pd.Series":
        """P(alive | x, t_x, T) = 1 / (1 + a/(b+x) · ((α+T)/(α+t_x))^(r+x))."""
        import pandas as pd

        _, _, _, _, d = self._pieces(summary)
        return pd.Series(1.0 / (1.0 + d), index=summary.index, name="p_alive")

    def median_time_to_next_purchase(self, summary: "pd.DataFrame", cap: float) -> "np.ndarray":
        """As BG/NBD's: see :func:`_median_wait_dropout_model`."""
        p, x, _, T, d = self._pieces(summary)
        return _median_wait_dropout_model(1.0 / (1.0 + d), x, T, p["r"], p["alpha"], cap)

    def expected_purchases(self, ts: "Sequence[float]", summary: "pd.DataFrame") -> "np.ndarray":
        """E[Y(t) | x, t_x, T] = (a+b+x)/(a−1) · (1 − ((α+T)/(α+T+t))^(r+x) ·
        ₂F₁(r+x, b+x+1; a+b+x; t/(α+T+t))) / (1 + d), for each of ``ts`` and each customer."""
        import numpy as np
        from scipy.special import hyp2f1

        p, x, tx, T, d = self._pieces(summary)
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        out = np.empty((len(ts), len(x)))
        for row, t in enumerate(ts):
            tail = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x + 1, a + b + x, t / (alpha + T + t))
            with np.errstate(divide="ignore", invalid="ignore"):
                out[row] = (a + b + x) / (a - 1) * tail / (1 + d)
        return out

    def conditional_expected_number_of_purchases_up_to_time(self, t: float, summary: "pd.DataFrame") -> "pd.Series":
        import pandas as pd

        return pd.Series(self.expected_purchases([t], summary)[0], index=summary.index, name="expected_purchases")

    def conditional_probability_of_no_purchase(self, t: float, summary: "pd.DataFrame") -> "pd.Series":
        """P(no purchase in the next ``t`` units | x, t_x, T): as BG/NBD's (a customer drops
        out only right after a purchase), 1 − P(alive) + P(alive) · ((α+T)/(α+T+t))^(r+x)."""
        import pandas as pd

        p, x, _, T, d = self._pieces(summary)
        alive = 1.0 / (1.0 + d)
        quiet = ((p["alpha"] + T) / (p["alpha"] + T + t)) ** (p["r"] + x)
        return pd.Series(1.0 - alive + alive * quiet, index=summary.index, name="p_no_purchase")

    def purchase_count_pmf(self, t: float, summary: "pd.DataFrame") -> "np.ndarray":
        """P(Y(t) = y | x, t_x, T) for y = 0, 1, … (rows) and each customer (columns)."""
        pmf, column = self.purchase_count_distribution(t, summary)
        return pmf[:, column]

    def purchase_count_distribution(self, t: float, summary: "pd.DataFrame") -> "CountDistribution":
        """As BG/NBD's, one more survived chance of dropping out (at time 0):
        p | alive ~ Beta(a, b + x + 1)."""
        p = self.params_
        alive = self.conditional_probability_alive(summary).to_numpy("float64")
        return dropout_count_pmf(alive, summary, t, p["r"], p["alpha"], p["a"], p["b"] + 1.0)


#: A count distribution per kind of customer — P(Y = y) for y = 0 … K (rows) by kind
#: (columns) — and each customer's kind: customers alike in (x, T, P(alive)) share a column.
CountDistribution = tuple["np.ndarray", "np.ndarray"]
#: The purchase counts a distribution is summed to: past this many the rest is lumped.
MAX_COUNT = 1_000


def dropout_count_pmf(
    alive: "np.ndarray", summary: "pd.DataFrame", t: float, r: float, alpha: float, a: float, b: float,
) -> tuple["np.ndarray", "np.ndarray"]:
    """The distribution of the purchases in the next ``t`` units when a customer may drop
    out right after each purchase (BG/NBD and MBG/NBD), by exact summation. Given alive,
    the posterior rate is λ ~ Gamma(r + x, α + T) and the dropout probability p ~ Beta(a, b')
    (``b`` here is b' − x), independent; a purchase count Y ≥ y ≥ 1 needs y purchases of the
    Poisson process in t (a negative binomial tail) and y − 1 survived dropouts:

        P(Y ≥ y) = P(alive) · P(NB(r + x, (α+T)/(α+T+t)) ≥ y) · B(a, b + x + y − 1) / B(a, b + x)

    Rows are y = 0 … K, K the first count past which no customer has 1e-12 left (at most
    MAX_COUNT; the rest is in the last row); columns the distinct (x, T, P(alive)), with
    each customer's column (a :data:`CountDistribution`)."""
    import numpy as np
    from scipy.special import betaln
    from scipy.stats import nbinom

    x = summary["frequency"].to_numpy("float64")
    T = summary["T"].to_numpy("float64")
    key = np.column_stack([x, T, alive])
    distinct, at = np.unique(key, axis=0, return_inverse=True)
    xu, Tu, aliveu = distinct[:, 0], distinct[:, 1], distinct[:, 2]
    q = (alpha + Tu) / (alpha + Tu + t)
    at_least = [np.ones(len(xu))]  # P(Y >= 0)
    y = 1
    while y <= MAX_COUNT:
        tail = aliveu * nbinom.sf(y - 1, r + xu, q) * np.exp(betaln(a, b + xu + y - 1) - betaln(a, b + xu))
        at_least.append(tail)
        if tail.max(initial=0.0) < 1e-12:
            break
        y += 1
    return _pmf_of_tails(np.vstack(at_least)), np.asarray(at).ravel()


def _pmf_of_tails(tails: "np.ndarray") -> "np.ndarray":
    """P(Y = y) from P(Y >= y), rows y = 0 … K (the last row keeps the rest)."""
    import numpy as np

    return np.vstack([tails[:-1] - tails[1:], tails[-1:]])


def count_interval(pmf: "np.ndarray", level: float) -> tuple["np.ndarray", "np.ndarray"]:
    """Per customer (column), the shortest range of purchase counts [lo, hi] holding at
    least ``level`` of the probability (the lowest such range on a tie). For a count this is
    the honest interval: a central one ([q_0.1, q_0.9]) holds far more than 80 % for the
    many customers whose most likely count is 0."""
    import numpy as np

    mass = np.vstack([np.zeros(pmf.shape[1]), np.cumsum(pmf, axis=0)])  # mass[k] = P(Y < k)
    best_lo = np.zeros(pmf.shape[1], dtype="int64")
    best_hi = np.full(pmf.shape[1], pmf.shape[0] - 1, dtype="int64")
    for lo in range(pmf.shape[0]):
        reachable = mass[-1] - mass[lo] >= level - 1e-12
        if not reachable.any():
            break
        # the first hi with P(lo <= Y <= hi) >= level
        hi = (mass[lo + 1:] - mass[lo] < level - 1e-12).sum(axis=0) + lo
        better = reachable & (hi - lo < best_hi - best_lo)
        best_lo[better], best_hi[better] = lo, hi[better]
    return best_lo, best_hi


def total_interval(pmf: "np.ndarray", level: float, customers: "np.ndarray | None" = None) -> tuple[float, float]:
    """An interval for the total of the customers' purchase counts (independent customers:
    a normal approximation with the sum of their means and variances); ``customers``: how
    many customers each column (a kind of customer) stands for, 1 each by default."""
    import numpy as np
    from scipy.stats import norm

    counts = np.arange(pmf.shape[0])[:, None]
    mean = (counts * pmf).sum(axis=0)
    variance = ((counts - mean) ** 2 * pmf).sum(axis=0)
    weight = np.ones(pmf.shape[1]) if customers is None else customers
    z = norm.ppf(0.5 + level / 2)
    total, spread = float(weight @ mean), float(np.sqrt(weight @ variance))
    return max(0.0, total - z * spread), total + z * spread


#: Days in an average month: the step of the discounted CLV sum.
MONTH_DAYS = 365.25 / 12


def customer_lifetime_value(
    bgnbd: BetaGeoModel,
    gamma_gamma: GammaGammaModel,
    summary: "pd.DataFrame",
    *,
    horizon_days: float,
    discount_monthly: float = 0.0,
    unit_days: float = 7.0,
) -> "pd.Series":
    """Discounted value of each customer's expected purchases over the horizon:

        CLV = Σ_k E[M] · (E[Y(t_k)] − E[Y(t_{k−1})]) / (1 + d)^(t_k in months)

    with t_k one month apart (the last step shorter) up to the horizon, E[Y] from BG/NBD and
    E[M] from Gamma–Gamma: the purchases expected in each month, valued and discounted at the
    end of that month (the lifetimes package's definition, with the horizon in days)."""
    import pandas as pd

    if discount_monthly < 0:
        raise DataError("the discount rate must not be negative")
    steps = month_steps(horizon_days)
    expected = bgnbd.expected_purchases([t / unit_days for t in steps], summary)
    value = gamma_gamma.conditional_expected_average_profit(summary).to_numpy("float64")
    return pd.Series(discounted_value(expected, value, steps, discount_monthly), index=summary.index, name="clv")


def month_steps(horizon_days: float) -> list[float]:
    """The days at the end of each month of the horizon (the last step shorter): where
    :func:`customer_lifetime_value` values and discounts the purchases; the last is the horizon."""
    import math

    steps = max(1, math.ceil(horizon_days / MONTH_DAYS - 1e-9))
    return [min(k * MONTH_DAYS, horizon_days) for k in range(1, steps + 1)]


def discounted_value(expected: "np.ndarray", order_value: "np.ndarray", steps: list[float], discount_monthly: float) -> "np.ndarray":
    """The CLV sum from the expected purchases up to each of ``steps`` (rows of ``expected``)
    and the expected order value: each month's new purchases, valued and discounted."""
    import numpy as np

    total = np.zeros(expected.shape[1])
    previous = np.zeros(expected.shape[1])
    for row, t_days in enumerate(steps):
        total += order_value * (expected[row] - previous) / (1.0 + discount_monthly) ** (t_days / MONTH_DAYS)
        previous = expected[row]
    return total
