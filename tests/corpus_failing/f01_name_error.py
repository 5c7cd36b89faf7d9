# expect: NameError 8
values = [3, 1, 4, 1, 5, 9, 2, 6]
print("count", len(values))
total = sum(values)
print("total", total)
mean = total / len(values)
print("mean", mean)
print("spread", max(values) - minimum)
print("AFTER-FAILURE")
ranked = sorted(values, reverse=True)
print(ranked)
squares = [v * v for v in values]
print(squares)
cumulative = []
running = 0
for v in values:
    running += v
    cumulative.append(running)
print(cumulative)
evens = [v for v in values if v % 2 == 0]
print("evens", evens)
odds = [v for v in values if v % 2]
print("odds", odds)
report = {"n": len(values), "total": total, "mean": mean}
print(report)
