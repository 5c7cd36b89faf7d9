import numpy as np
import pandas as pd

rng = np.random.default_rng(3)
n = 50_000
customers = pd.DataFrame(
    {
        "tenure_months": rng.integers(1, 72, n),
        "monthly_charges": rng.normal(65, 20, n).clip(15, 150).round(2),
        "support_calls": rng.poisson(1.5, n),
        "contract": rng.choice(["monthly", "yearly", "two-year"], n, p=[0.55, 0.25, 0.2]),
    }
)
logit = -2 + 0.03 * customers["monthly_charges"] - 0.05 * customers["tenure_months"]
customers["churned"] = rng.random(n) < 1 / (1 + np.exp(-logit))
print(customers.describe().round(2))

# The model misremembers the column name: a KeyError, as agents often produce.
revenue_at_risk = customers.loc[customers["churned"], "monthly_charge"].sum()
print(f"revenue at risk: {revenue_at_risk:,.2f}")

by_contract = customers.groupby("contract")["churned"].mean().sort_values()
print(by_contract.round(3))

customers["calls_bucket"] = pd.cut(customers["support_calls"], [-1, 0, 2, 5, 100])
print(customers.groupby("calls_bucket", observed=True)["churned"].mean().round(3))


def lift(frame, column, quantiles=10):
    ranked = pd.qcut(frame[column].rank(method="first"), quantiles, labels=False)
    rates = frame.groupby(ranked)["churned"].mean()
    return rates / frame["churned"].mean()


print(lift(customers, "monthly_charges").round(2).to_dict())
print(lift(customers, "tenure_months").round(2).to_dict())

tenure_bins = pd.cut(customers["tenure_months"], bins=[0, 12, 24, 48, 72])
table = customers.pivot_table(
    index=tenure_bins, columns="contract", values="churned", observed=True
)
print(table.round(3))

high_value = customers[customers["monthly_charges"] > 100]
print(len(high_value), "high-value customers, churn", round(high_value["churned"].mean(), 3))
