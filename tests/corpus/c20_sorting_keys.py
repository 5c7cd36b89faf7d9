from operator import attrgetter, itemgetter

people = [
    {"name": "Zoe", "age": 30, "city": "Rome"},
    {"name": "adam", "age": 25, "city": "Oslo"},
    {"name": "Bea", "age": 30, "city": "Oslo"},
    {"name": "carl", "age": 22, "city": "Rome"},
]
by_age_then_name = sorted(people, key=lambda p: (-p["age"], p["name"].lower()))
print([p["name"] for p in by_age_then_name])
print([p["name"] for p in sorted(people, key=itemgetter("city", "age"))])
print(sorted(["b10", "a2", "a10", "b1"], key=lambda s: (s[0], int(s[1:]))))
print(sorted("Hello World", key=str.casefold))
words = ["banana", "Apple", "cherry", "apple", "Banana"]
words.sort(key=str.lower)
print(words)
words.sort(key=len, reverse=True)
print(words)


class Emp:
    def __init__(self, name, salary):
        self.name, self.salary = name, salary

    def __repr__(self):
        return f"Emp({self.name}, {self.salary})"


staff = [Emp("x", 300), Emp("y", 100), Emp("z", 200)]
print(sorted(staff, key=attrgetter("salary")))
print(max(staff, key=attrgetter("salary")).name, min(people, key=itemgetter("age"))["name"])
stable = sorted([(1, "b"), (0, "a"), (1, "a"), (0, "b")], key=itemgetter(0))
print(stable)
