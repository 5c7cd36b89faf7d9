# expect: KeyError 12
import pandas as pd

sales = pd.DataFrame(
    {
        "region": ["north", "south", "east", "west", "north", "south"],
        "units": [10, 25, 7, 14, 30, 5],
        "price": [2.5, 1.75, 3.0, 2.25, 2.5, 1.75],
    }
)
print(sales.head(3))
revenue = (sales["units"] * sales["unit_price"]).sum()
print("AFTER-FAILURE")
print("revenue", revenue)
by_region = sales.groupby("region")["units"].sum().sort_values(ascending=False)
print(by_region)
sales["revenue"] = sales["units"] * sales["price"]
top = sales.nlargest(3, "revenue")
print(top)
share = (sales.groupby("region")["revenue"].sum() / sales["revenue"].sum()).round(3)
print(share)
summary = sales.describe()
print(summary)
pivot = sales.pivot_table(index="region", values=["units", "revenue"], aggfunc="sum")
print(pivot)
