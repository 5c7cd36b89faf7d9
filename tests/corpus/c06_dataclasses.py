from dataclasses import asdict, dataclass, field, replace


@dataclass(order=True)
class Item:
    priority: int
    name: str = field(compare=False)
    tags: list = field(default_factory=list, compare=False)


@dataclass(frozen=True)
class Point:
    x: float
    y: float

    def dist(self, other):
        return ((self.x - other.x) ** 2 + (self.y - other.y) ** 2) ** 0.5


items = [Item(3, "c"), Item(1, "a", ["x"]), Item(2, "b")]
items.sort()
print(items)
print([asdict(i) for i in items])
p = Point(0, 0)
q = replace(p, x=3.0, y=4.0)
print(q, p.dist(q), hash(q) == hash(Point(3.0, 4.0)))
try:
    q.x = 1
except Exception as exc:
    print(type(exc).__name__)
item_names = [i.name for i in items]
distance = p.dist(q)
