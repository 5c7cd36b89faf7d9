def make_counter(start=0):
    count = start

    def inc(step=1):
        nonlocal count
        count += step
        return count

    return inc


c = make_counter(10)
print(c(), c(), c(5))

adders = [lambda x, n=n: x + n for n in range(4)]
print([f(100) for f in adders])

late = [lambda x: x + n for n in range(3)]
print([f(0) for f in late])

total = 0


def add_global(v):
    global total
    total += v


for v in (3, 4, 5):
    add_global(v)
print("total", total)
counter_value = c(0)
