import functools
import itertools
import operator

nums = list(range(1, 11))
print(list(itertools.accumulate(nums, operator.mul))[:6])
print(list(itertools.combinations("abcd", 2)))
print(list(itertools.islice(itertools.cycle("xyz"), 7)))
groups = {k: list(g) for k, g in itertools.groupby(sorted("mississippi"))}
print(groups)
print(list(itertools.product([0, 1], repeat=3))[-3:])
print(list(itertools.zip_longest("ab", "wxyz", fillvalue="-")))
print(list(itertools.pairwise(nums[:5])))
product = functools.reduce(operator.mul, nums, 1)
print(product)
square = functools.partial(pow, exp=2)
print([square(n) for n in nums[:5]])


@functools.total_ordering
class Version:
    def __init__(self, s):
        self.parts = tuple(int(p) for p in s.split("."))

    def __eq__(self, other):
        return self.parts == other.parts

    def __lt__(self, other):
        return self.parts < other.parts

    def __repr__(self):
        return "v" + ".".join(map(str, self.parts))


versions = sorted(Version(v) for v in ["1.10.0", "1.2.3", "1.2.10", "0.9"])
print(versions, Version("2.0") >= Version("1.99"))
newest = str(max(versions))
