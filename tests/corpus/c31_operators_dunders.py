class Vec:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __add__(self, o):
        return Vec(self.x + o.x, self.y + o.y)

    def __mul__(self, k):
        return Vec(self.x * k, self.y * k)

    __rmul__ = __mul__

    def __eq__(self, o):
        return (self.x, self.y) == (o.x, o.y)

    def __hash__(self):
        return hash((self.x, self.y))

    def __iter__(self):
        yield self.x
        yield self.y

    def __len__(self):
        return 2

    def __getitem__(self, i):
        return (self.x, self.y)[i]

    def __repr__(self):
        return f"Vec({self.x}, {self.y})"

    def __bool__(self):
        return bool(self.x or self.y)


v = Vec(1, 2) + Vec(3, 4)
w = 2 * v
print(v, w, list(w), len(w), w[1])
print(Vec(0, 0) or "falsy", {Vec(1, 1), Vec(1, 1)} == {Vec(1, 1)})
x, y = w
print(x, y)


class Meta(type):
    created = []

    def __new__(mcs, name, bases, ns):
        cls = super().__new__(mcs, name, bases, ns)
        mcs.created.append(name)
        return cls


class A(metaclass=Meta):
    pass


class B(A):
    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        cls.tag = cls.__name__.lower()


class C(B):
    pass


print(Meta.created, C.tag)


class Lazy:
    def __getattr__(self, name):
        return f"<{name}>"

    @property
    def real(self):
        return "real"

    @staticmethod
    def util():
        return "static"

    @classmethod
    def make(cls):
        return cls.__name__


lz = Lazy()
print(lz.anything, lz.real, Lazy.util(), Lazy.make())
created = list(Meta.created)
