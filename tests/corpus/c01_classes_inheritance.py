class Shape:
    registry = []

    def __init__(self, name):
        self.name = name
        Shape.registry.append(name)

    def area(self):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r}, area={self.area():.2f})"


class Rect(Shape):
    def __init__(self, w, h):
        super().__init__("rect")
        self.w, self.h = w, h

    def area(self):
        return self.w * self.h


class Square(Rect):
    def __init__(self, side):
        super().__init__(side, side)
        self.name = "square"


class Circle(Shape):
    pi = 3.14159

    def __init__(self, r):
        super().__init__("circle")
        self.r = r

    def area(self):
        return self.pi * self.r**2


shapes = [Rect(2, 3), Square(4), Circle(1.5)]
for s in shapes:
    print(s)
print(Square.__mro__[1].__name__, isinstance(shapes[1], Shape))
total_area = round(sum(s.area() for s in shapes), 4)
print("total", total_area)
names = list(Shape.registry)
