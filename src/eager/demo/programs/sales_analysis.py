import numpy as np
import pandas as pd

# Synthetic order book: one year of orders across regions and products.
rng = np.random.default_rng(42)
n = 300_000
regions = np.array(["north", "south", "east", "west"])
products = np.array(["widget", "gadget", "doohickey", "gizmo", "sprocket"])
df = pd.DataFrame(
    {
        "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 366, n), unit="D"),
        "region": rng.choice(regions, n, p=[0.3, 0.2, 0.3, 0.2]),
        "product": rng.choice(products, n),
        "units": rng.poisson(3, n) + 1,
        "unit_price": rng.gamma(2.0, 15.0, n).round(2),
    }
)
df["revenue"] = df["units"] * df["unit_price"]
print(f"{len(df):,} orders, total revenue {df['revenue'].sum():,.2f}")

by_region = df.groupby("region")["revenue"].agg(["sum", "mean", "count"])
by_region = by_region.sort_values("sum", ascending=False)
print(by_region.round(2))

df["month"] = df["date"].dt.to_period("M")
monthly = df.groupby("month")["revenue"].sum()
growth = monthly.pct_change().dropna()
print("best month:", monthly.idxmax(), f"{monthly.max():,.0f}")
print("mean month-over-month growth:", f"{growth.mean():+.2%}")

pivot = df.pivot_table(index="product", columns="region", values="units", aggfunc="sum")
share = pivot.div(pivot.sum(axis=1), axis=0)
print((share * 100).round(1))


def top_customers_like(frame, k=3):
    """The k largest single orders per product."""
    return frame.sort_values("revenue", ascending=False).groupby("product").head(k)


top = top_customers_like(df)
print(top.groupby("product")["revenue"].max().round(2).to_dict())

# Price elasticity proxy: correlation between price and units within each product.
elasticity = df.groupby("product")[["unit_price", "units"]].corr().unstack().iloc[:, 1]
print(elasticity.round(4).to_dict())

weekday = df.groupby(df["date"].dt.day_name())["revenue"].mean()
print("busiest weekday:", weekday.idxmax())
