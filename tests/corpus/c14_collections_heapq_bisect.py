import bisect
import heapq
from collections import ChainMap, Counter, OrderedDict, defaultdict, deque, namedtuple

text = "to be or not to be that is the question"
counts = Counter(text.split())
print(counts.most_common(3))
index = defaultdict(list)
for i, w in enumerate(text.split()):
    index[w[0]].append(i)
print(dict(index))
dq = deque(range(5), maxlen=5)
dq.append(5)
dq.rotate(2)
print(list(dq))
Pair = namedtuple("Pair", "left right")
pr = Pair(1, right=2)
print(pr, pr._asdict(), pr._replace(left=9))
od = OrderedDict.fromkeys("abcde")
od.move_to_end("b")
print(list(od))
cm = ChainMap({"a": 1}, {"a": 2, "b": 3})
print(cm["a"], cm["b"], len(cm))
heap = [7, 2, 9, 4, 1, 8]
heapq.heapify(heap)
smallest = [heapq.heappop(heap) for _ in range(3)]
print(smallest, heapq.nlargest(2, [7, 2, 9, 4, 1, 8]))
grades = [60, 70, 80, 90]
letters = "FDCBA"
scores = [33, 99, 77, 70, 89, 90, 100]
report = [letters[bisect.bisect(grades, s)] for s in scores]
print(report)
ordered = []
for s in scores:
    bisect.insort(ordered, s)
print(ordered)
