words = "the quick brown fox jumps over the lazy dog the end".split()
lengths = {w: len(w) for w in words}
print(lengths)
unique_sorted = sorted({w for w in words})
print(unique_sorted)
matrix = [[i * j for j in range(1, 5)] for i in range(1, 4)]
print(matrix)
transposed = [list(row) for row in zip(*matrix)]
print(transposed)
flat = [x for row in matrix for x in row if x % 2 == 0]
print(flat)
nested = {k: [c for c in k if c in "aeiou"] for k in unique_sorted if len(k) > 3}
print(nested)
pairs = [(a, b) for a in range(4) for b in range(a) if (a + b) % 2]
print(pairs)
