def countdown(n):
    while n > 0:
        yield n
        n -= 1
    return "done"


def take(gen, k):
    out = []
    for _ in range(k):
        out.append(next(gen))
    return out


g = countdown(10)
print(take(g, 3))
print(take(g, 2))


def chain(*its):
    for it in its:
        yield from it


squares = (x * x for x in range(6))
print(list(chain("ab", squares, [None])))


def accumulate():
    total = 0
    while True:
        value = yield total
        if value is None:
            break
        total += value


acc = accumulate()
next(acc)
for v in [5, 10, 20]:
    last = acc.send(v)
print("acc", last)
remaining = list(g)
print(remaining)
