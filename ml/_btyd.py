"""The closed forms behind `ml.clv`: BG/NBD and Gamma-Gamma, vectorised over customers.

Each function takes the model's parameters as floats and the customers' summaries
as arrays: x (repeat purchases), t_x (recency), T (age). Powers of large numbers and
Beta/Gamma functions stay in logs until the end (gammaln, betaln, logaddexp, log1p),
so a customer with a thousand purchases over ten years neither overflows nor costs
the others their precision.

Equation numbers refer to Fader, Hardie & Lee (2005), "Counting Your Customers the
Easy Way", Marketing Science 24(2); the Gamma-Gamma forms to Fader & Hardie (2013),
"The Gamma-Gamma Model of Monetary Value" (note 025).
"""

from collections.abc import Callable

import numpy as np
from scipy.special import betainc, betaincinv, betaln, digamma, expit, gammaln, hyp2f1, roots_legendre

# within this of a = 1, a + b + x = 1 or a whole r − a, E[Y(t)]'s closed form is 0/0 or
# scipy's ₂F₁ unreliable: it is interpolated from two neighbours instead
_NEAR_SINGULAR = 1e-4

Params = tuple[float, float, float, float]  # BG/NBD's r, α, a, b


def bgnbd_log_likelihood(
    log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray, age: np.ndarray, weight: np.ndarray
) -> tuple[float, np.ndarray]:
    """Σ weight · ln L(r, α, a, b | x, t_x, T) (eq. 6) and its gradient in the log-parameters.

    ln L = ln Γ(r+x) − ln Γ(r) + r ln α − ln B(a,b) + ln(A₁ + A₂), with
    A₁ = B(a, b+x) (α+T)^−(r+x): alive at T, and, for x > 0,
    A₂ = B(a+1, b+x−1) (α+t_x)^−(r+x): dropped out right after the last purchase.
    """
    r, alpha, a, b = np.exp(log_params)
    repeat = x > 0
    x_or_1 = np.where(repeat, x, 1.0)  # keeps betaln(a+1, b+x-1) finite where A₂ is absent
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    alive = betaln(a, b + x) - (r + x) * np.log(alpha + age)
    dropped = np.where(repeat, betaln(a + 1, b + x_or_1 - 1) - (r + x) * np.log(alpha + t_x), -np.inf)
    both = np.logaddexp(alive, dropped)
    # each branch's share of the likelihood: the gradient is the shares' mix of theirs
    w_alive, w_dropped = np.exp(alive - both), np.exp(dropped - both)
    psi_abx = digamma(a + b + x)
    d_r = (
        digamma(r + x)
        - digamma(r)
        + np.log(alpha)
        - (w_alive * np.log(alpha + age) + w_dropped * np.log(alpha + t_x))
    )
    d_alpha = r / alpha - (r + x) * (w_alive / (alpha + age) + w_dropped / (alpha + t_x))
    d_a = (digamma(a + b) - digamma(a)) + (
        w_alive * (digamma(a) - psi_abx) + w_dropped * (digamma(a + 1) - psi_abx)
    )
    d_b = (digamma(a + b) - digamma(b)) + (
        w_alive * (digamma(b + x) - psi_abx) + w_dropped * (digamma(b + x_or_1 - 1) - psi_abx)
    )
    gradient = np.array([weight @ d_r * r, weight @ d_alpha * alpha, weight @ d_a * a, weight @ d_b * b])
    return float(weight @ (common + both)), gradient


def bgnbd_alive(params: Params, *, x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> np.ndarray:
    """P(alive at T | x, t_x, T) (eq. 12); exactly 1 for x = 0, as the model only lets
    a customer drop out right after a repeat purchase."""
    r, alpha, a, b = params
    x_or_1 = np.maximum(x, 1.0)
    log_odds_dropped = (
        np.log(a)
        - np.log(b + x_or_1 - 1)
        + (r + x) * np.log1p((age - t_x) / (alpha + t_x))  # ln((α+T)/(α+t_x)) without cancelling
    )
    return np.where(x > 0, expit(-log_odds_dropped), 1.0)


def bgnbd_no_purchase(
    params: Params, *, x: np.ndarray, t_x: np.ndarray, age: np.ndarray, horizon: float
) -> np.ndarray:
    """P(no purchase in (T, T+h] | x, t_x, T).

    Dropped out: certainly none. Alive: the rate's posterior is Gamma(r+x, α+T) and
    a live customer cannot drop out before buying again, so P(none) = E[e^−λh] =
    ((α+T)/(α+T+h))^(r+x). Hence 1 − P(alive) · (1 − ((α+T)/(α+T+h))^(r+x)).
    """
    r, alpha, _, _ = params
    buys_if_alive = -np.expm1(-(r + x) * np.log1p(horizon / (alpha + age)))
    return 1.0 - bgnbd_alive(params, x=x, t_x=t_x, age=age) * buys_if_alive


def bgnbd_expected_purchases(
    params: Params, *, x: np.ndarray, t_x: np.ndarray, age: np.ndarray, horizon: float
) -> np.ndarray:
    """E[purchases in (T, T+h] | x, t_x, T] (eq. 10): P(alive) times the expectation if alive."""
    alive = bgnbd_alive(params, x=x, t_x=t_x, age=age)
    return alive * _purchases_if_alive(params, x=x, age=age, horizon=horizon)


def _purchases_if_alive(params: Params, *, x: np.ndarray, age: np.ndarray, horizon: float) -> np.ndarray:
    """(a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+h))^(r+x) ₂F₁(r+x, b+x; a+b+x−1; z)], z = h/(α+T+h).

    Euler's transformation ₂F₁(A,B;C;z) = (1−z)^(C−A−B) ₂F₁(C−A, C−B; C; z) turns the
    bracket into 1 − (1−z)^(a−1) ₂F₁(a+b−1−r, a−1; a+b+x−1; z): no huge ₂F₁ times a
    tiny power for heavy buyers (the "#NUM!" problem of Fader & Hardie's note 027).

    The function is smooth in its parameters, but its closed form is 0/0 at a = 1 and at
    a+b+x−1 = 0, and scipy's ₂F₁ goes wrong (NaN, or silently off) when C−A−B = x+r+1−a
    is an integer, i.e. r − a is. Near those points it is interpolated between two
    neighbours where the closed form holds.
    """
    r, alpha, a, b = params
    if abs(a - 1) < _NEAR_SINGULAR:
        return _between_neighbours(
            lambda a_: _purchases_if_alive((r, alpha, a_, b), x=x, age=age, horizon=horizon), a, 1.0
        )
    whole = a + round(r - a)
    if abs(r - whole) < _NEAR_SINGULAR and whole > 3 * _NEAR_SINGULAR:
        return _between_neighbours(
            lambda r_: _purchases_if_alive((r_, alpha, a, b), x=x, age=age, horizon=horizon), r, whole
        )
    c = a + b + x - 1
    near = np.abs(c) < _NEAR_SINGULAR  # only where x = 0 and a + b ≈ 1
    if near.any():
        out = np.empty(len(x))
        out[~near] = _purchases_if_alive(params, x=x[~near], age=age[~near], horizon=horizon)
        out[near] = _between_neighbours(
            lambda b_: _purchases_if_alive((r, alpha, a, b_), x=x[near], age=age[near], horizon=horizon),
            b,
            1 - a,
        )
        return out
    log_1mz = -np.log1p(horizon / (alpha + age))
    z = -np.expm1(log_1mz)
    with np.errstate(invalid="ignore", over="ignore"):
        bracket = 1.0 - np.exp((a - 1) * log_1mz) * hyp2f1(a + b - 1 - r, a - 1, c, z)
        closed = c / (a - 1) * bracket
    # scipy's ₂F₁ also gives up when a, b or r run to thousands, as in fits that went to
    # a limit of the model; there, and for anything outside 0 <= E <= (r+x)h/(α+T)
    # (Bernoulli's inequality bounds the integrand), integrate numerically instead
    ceiling = (r + x) * horizon / (alpha + age)
    doubtful = ~((closed >= 0) & (closed <= ceiling * (1 + 1e-9)))
    if doubtful.any():
        closed[doubtful] = _purchases_if_alive_numerically(
            params, x=x[doubtful], age=age[doubtful], horizon=horizon
        )
    return closed


def _between_neighbours(evaluate: Callable[[float], np.ndarray], value: float, centre: float) -> np.ndarray:
    """`evaluate(value)` for a value near `centre`, from a straight line through centre ± 2δ."""
    below, above = centre - 2 * _NEAR_SINGULAR, centre + 2 * _NEAR_SINGULAR
    share = (value - below) / (above - below)
    return (1 - share) * evaluate(below) + share * evaluate(above)


# panel edges shrinking tenfold towards 0 and 1; Gauss-Legendre points within each panel
_TAILS = 10.0 ** -np.arange(1, 16)
_EDGES = np.concatenate([[0.0, 1.0, 0.3, 0.5, 0.7], _TAILS, 1 - _TAILS])
_POINTS, _POINT_WEIGHTS = roots_legendre(8)
_ROWS_AT_ONCE = 4096


def _purchases_if_alive_numerically(
    params: Params, *, x: np.ndarray, age: np.ndarray, horizon: float
) -> np.ndarray:
    """E_p[(1 − (1 + p h/(α+T))^−(r+x)) / p] for p ~ Beta(a, b+x), the dropout's posterior if
    alive (given p, the rate's posterior Gamma(r+x, α+T) gives the expectation of the model's
    (1 − e^−λph)/p in closed form).

    Gauss-Legendre over the Beta's quantiles u, so a Beta concentrated by huge a and b is
    handled; panels graded towards both ends of u and of p, so are one piled at an end by a
    tiny a (the integrand grows like u^(−1/a)) and a U-shaped one that jumps from p ≈ 0 to
    p ≈ 1 somewhere in the middle of u.
    """
    r, alpha, a, b = params
    counts, which = np.unique(x, return_inverse=True)
    shape = b + counts[:, None]
    # per distinct x: panels at fixed quantiles and at the quantiles of fixed dropouts
    edges = np.sort(
        np.concatenate(
            [np.broadcast_to(_EDGES, (len(counts), len(_EDGES))), betainc(a, shape, _EDGES)], axis=1
        ),
        axis=1,
    )
    low, width = edges[:, :-1, None], np.diff(edges, axis=1)[:, :, None]
    nodes = (low + width * (_POINTS + 1) / 2).reshape(len(counts), -1)
    weights = (width * _POINT_WEIGHTS / 2).reshape(len(counts), -1)
    dropouts = betaincinv(a, shape, nodes)
    out = np.empty(len(x))
    for start in range(0, len(x), _ROWS_AT_ONCE):  # 520 nodes a row: bound the memory
        rows = slice(start, start + _ROWS_AT_ONCE)
        dropout, weight = dropouts[which[rows]], weights[which[rows]]
        n, k = (r + x[rows])[:, None], (horizon / (alpha + age[rows]))[:, None]
        safe = np.where(dropout > 0, dropout, 1.0)
        integrand = np.where(dropout > 0, -np.expm1(-n * np.log1p(safe * k)) / safe, n * k)
        out[rows] = np.einsum("ij,ij->i", integrand, weight)
    return out


def gamma_gamma_log_likelihood(
    log_params: np.ndarray, x: np.ndarray, mean_value: np.ndarray
) -> tuple[float, np.ndarray]:
    """Σ ln f(z̄ | p, q, γ, x) and its gradient in the log-parameters.

    Each of a customer's x order values is Gamma(p, ν), so their mean z̄ is
    Gamma(px, xν); ν is Gamma(q, γ) across customers. Integrating ν out:
    f(z̄) = Γ(px+q) / (Γ(px) Γ(q)) · γ^q x^(px) z̄^(px−1) / (γ + x z̄)^(px+q).
    """
    p, q, gamma = np.exp(log_params)
    px = p * x
    log_total = np.log(gamma + x * mean_value)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + px * np.log(x)
        + (px - 1) * np.log(mean_value)
        - (px + q) * log_total
    )
    psi_pxq = digamma(px + q)
    d_p = x * (psi_pxq - digamma(px) + np.log(x) + np.log(mean_value) - log_total)
    d_q = psi_pxq - digamma(q) + np.log(gamma) - log_total
    d_gamma = q / gamma - (px + q) / (gamma + x * mean_value)
    gradient = np.array([d_p.sum() * p, d_q.sum() * q, d_gamma.sum() * gamma])
    return float(ll.sum()), gradient


def gamma_gamma_expected_value(
    params: tuple[float, float, float], *, x: np.ndarray, mean_value: np.ndarray
) -> np.ndarray:
    """E[order value | x, z̄] = p (γ + x z̄) / (px + q − 1): a weighted mean of the population's
    mean pγ/(q−1) and the customer's own z̄, the weight on z̄ growing with x."""
    p, q, gamma = params
    return p * (gamma + x * mean_value) / (p * x + q - 1)


def simulate_bgnbd(
    params: Params,
    *,
    age: np.ndarray,
    horizon: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw customers from the BG/NBD story: (x, t_x) over (0, T] and purchases in (T, T+h].

    λ ~ Gamma(r, α), p ~ Beta(a, b); purchases arrive at rate λ and the customer
    drops out after the k-th repeat purchase, k ~ Geometric(p). Given N events of an
    unstopped Poisson process in (0, T], the x-th of them falls at T · Beta(x, N−x+1).
    For tests and benchmarks: the model's own world, where its forecasts must hold.
    """
    r, alpha, a, b = params
    n = len(age)
    rate = rng.gamma(r, 1.0 / alpha, n)
    dropout = np.maximum(rng.beta(a, b, n), 1e-12)  # a draw of exactly 0 would never end
    last = rng.geometric(dropout)  # the repeat purchase after which the customer leaves
    events = rng.poisson(rate * age)
    x = np.minimum(events, last)
    t_x = np.where(x > 0, age * rng.beta(np.maximum(x, 1), np.maximum(events - x + 1, 1)), 0.0)
    alive = events < last
    future = np.where(alive, np.minimum(rng.poisson(rate * horizon), last - x), 0)
    return x.astype(float), t_x, future
