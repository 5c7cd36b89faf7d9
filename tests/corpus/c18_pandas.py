import numpy as np
import pandas as pd

rng = np.random.default_rng(7)
df = pd.DataFrame(
    {
        "city": rng.choice(["Oslo", "Lima", "Pune", "Kobe"], 200),
        "temp": rng.normal(15, 8, 200).round(1),
        "rain": rng.poisson(3, 200),
    }
)
print(df.head())
summary = df.groupby("city").agg(mean_temp=("temp", "mean"), total_rain=("rain", "sum")).round(2)
print(summary)
df["hot"] = df["temp"] > 20
print(df["hot"].value_counts().sort_index())
pivot = df.pivot_table(index="city", columns="hot", values="rain", aggfunc="count", fill_value=0)
print(pivot)
ranked = summary.sort_values("mean_temp", ascending=False).index.tolist()
print(ranked)
df["temp_z"] = ((df["temp"] - df["temp"].mean()) / df["temp"].std()).round(3)
print(df.describe().round(2))
merged = df.merge(summary.reset_index(), on="city")
print(merged.shape, list(merged.columns))
n_rows = len(df)
