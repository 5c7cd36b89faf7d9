import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

df = pd.read_csv("weather.csv", parse_dates=["date"])
print(df.shape, "rows x columns")
print(df.isna().sum().to_dict())

# Fill the station gaps by interpolating within each city.
df = df.sort_values(["city", "date"])
df["temp_c"] = df.groupby("city")["temp_c"].transform(lambda s: s.interpolate())

summary = df.groupby("city").agg(
    mean_temp=("temp_c", "mean"),
    max_temp=("temp_c", "max"),
    rain_days=("precip_mm", lambda s: int((s > 0).sum())),
)
print(summary.round(2))

df["year"] = df["date"].dt.year
yearly = df.pivot_table(index="year", columns="city", values="temp_c", aggfunc="mean")
print(yearly.round(2))
print("warming per year:", (yearly.diff().mean()).round(2).to_dict())

corr = df[["temp_c", "humidity", "wind_kmh"]].corr()
print(corr.round(3))

df["rolling"] = df.groupby("city")["temp_c"].transform(lambda s: s.rolling(30).mean())
fig, ax = plt.subplots(figsize=(8, 4))
for city, part in df.groupby("city"):
    ax.plot(part["date"], part["rolling"], label=city)
ax.set_ylabel("30-day mean temperature (C)")
ax.legend()
fig.savefig("weather_trend.png", dpi=80)
print("figure saved")

hot = df[df["temp_c"] > df.groupby("city")["temp_c"].transform("quantile", 0.99)]
print(hot.groupby("city").size().to_dict())
