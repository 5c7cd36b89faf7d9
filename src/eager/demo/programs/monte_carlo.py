import math

import numpy as np

rng = np.random.default_rng(2024)


def estimate_pi(samples):
    points = rng.random((samples, 2))
    inside = (points**2).sum(axis=1) <= 1.0
    return 4.0 * inside.mean()


pi_hat = estimate_pi(4_000_000)
print(f"pi ~ {pi_hat:.4f} (error {abs(pi_hat - math.pi):.4f})")


def european_call(s0, strike, rate, sigma, years, paths):
    z = rng.standard_normal(paths)
    st = s0 * np.exp((rate - 0.5 * sigma**2) * years + sigma * math.sqrt(years) * z)
    payoff = np.maximum(st - strike, 0.0)
    return math.exp(-rate * years) * payoff.mean()


def black_scholes_call(s0, strike, rate, sigma, years):
    d1 = (math.log(s0 / strike) + (rate + 0.5 * sigma**2) * years) / (sigma * math.sqrt(years))
    d2 = d1 - sigma * math.sqrt(years)
    cdf = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    return s0 * cdf(d1) - strike * math.exp(-rate * years) * cdf(d2)


mc = european_call(100, 105, 0.03, 0.2, 1.0, 3_000_000)
exact = black_scholes_call(100, 105, 0.03, 0.2, 1.0)
print(f"call price: Monte Carlo {mc:.3f}, Black-Scholes {exact:.3f}")

# Bootstrap confidence interval of the median of a skewed sample.
sample = rng.lognormal(mean=1.0, sigma=0.8, size=5_000)
boot = np.median(rng.choice(sample, size=(2_000, sample.size)), axis=1)
low, high = np.percentile(boot, [2.5, 97.5])
print(f"median {np.median(sample):.3f}, 95% CI [{low:.3f}, {high:.3f}]")

# Random walk: how often does a walk of 1,000 steps return to zero?
steps = rng.choice([-1, 1], size=(20_000, 1_000))
walks = steps.cumsum(axis=1)
returns = (walks == 0).any(axis=1).mean()
print(f"{returns:.1%} of walks return to the origin")
