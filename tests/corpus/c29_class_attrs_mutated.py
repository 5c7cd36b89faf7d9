class Counter:
    instances = 0
    names = []

    def __init__(self, name):
        Counter.instances += 1
        self.names.append(name)
        self.name = name


a = Counter("a")
b = Counter("b")
print(Counter.instances, Counter.names)
Counter.instances = 100
c = Counter("c")
print(Counter.instances, b.names is Counter.names)
a.names = ["own"]
print(a.names, b.names)
Counter.greet = lambda self: f"hello from {self.name}"
print(c.greet(), a.greet())
del Counter.greet
print(hasattr(c, "greet"))
setattr(Counter, "kind", "counter")
print(getattr(b, "kind"))


class Sub(Counter):
    instances = 0


s = Sub("s")
print(Sub.instances, Counter.instances, Counter.names)
instances = Counter.instances
