# expect: TypeError 18
inventory = {"apples": 5, "pears": 3, "plums": 12}
print(sorted(inventory))
restock = {"apples": 10, "plums": 2}
for fruit, qty in restock.items():
    inventory[fruit] = inventory.get(fruit, 0) + qty
print(inventory)


def value(items, prices):
    return sum(items[k] * prices[k] for k in items)


prices = {"apples": 0.5, "pears": 0.75, "plums": 0.2}
print("value", value(inventory, prices))
labels = [f"{k}: {v}" for k, v in inventory.items()]
print(labels)
count = len(inventory) + " fruits"
print("AFTER-FAILURE")
print(count)
cheapest = min(prices, key=prices.get)
print("cheapest", cheapest)
expensive = [k for k, p in prices.items() if p > 0.3]
print(expensive)
restocked = {k: v for k, v in inventory.items() if k in restock}
print(restocked)
