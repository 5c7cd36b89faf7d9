# expect: ZeroDivisionError 3
def ratio(a, b):
    return a / b


def normalise(xs):
    total = sum(xs) - sum(xs)
    return [ratio(x, total) for x in xs]


print("ratio", ratio(3, 4))
data = [1, 2, 3, 4]
print("data", data)
normalised = normalise(data)
print("AFTER-FAILURE")
print(normalised)
doubled = [d * 2 for d in data]
print(doubled)
for i, d in enumerate(data):
    print(i, d, ratio(d, 2))
halves = list(map(lambda v: ratio(v, 2), data))
print(halves)
summary = {"min": min(data), "max": max(data)}
print(summary)
