import sys


def hanoi(n, src, dst, via, moves):
    if n == 0:
        return moves
    hanoi(n - 1, src, via, dst, moves)
    moves.append((src, dst))
    hanoi(n - 1, via, dst, src, moves)
    return moves


moves = hanoi(5, "A", "C", "B", [])
print(len(moves), moves[:4])


def permutations(items):
    if len(items) <= 1:
        return [items]
    out = []
    for i, x in enumerate(items):
        for p in permutations(items[:i] + items[i + 1:]):
            out.append([x] + p)
    return out


perms = permutations([1, 2, 3, 4])
print(len(perms), perms[-1])


def ackermann(m, n):
    if m == 0:
        return n + 1
    if n == 0:
        return ackermann(m - 1, 1)
    return ackermann(m - 1, ackermann(m, n - 1))


sys.setrecursionlimit(5000)
ack = ackermann(2, 3)
print("ackermann", ack)


def flatten(x):
    return [y for item in x for y in flatten(item)] if isinstance(x, list) else [x]


flat = flatten([1, [2, [3, [4, [5]]]], 6])
print(flat)
