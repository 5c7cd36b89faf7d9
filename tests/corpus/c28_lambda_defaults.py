ops = {
    "add": lambda a, b=1: a + b,
    "mul": lambda a, b=2: a * b,
    "neg": lambda a, *_: -a,
}
print({k: f(10) for k, f in ops.items()})
print(ops["add"](1, 5), ops["mul"](3, b=7))
scale = 3
scaled = lambda x, s=scale: x * s
scale = 100
print(scaled(2))
compose = lambda *fs: lambda x: [x := f(x) for f in fs][-1]
pipeline = compose(lambda v: v + 1, lambda v: v * 10, str)
print(pipeline(4))
sort_key = lambda kv: (-kv[1], kv[0])
freq = sorted({"a": 3, "b": 1, "c": 3, "d": 2}.items(), key=sort_key)
print(freq)
defaults = (lambda a, b=[]: b.append(a) or b)
print(defaults(1), defaults(2))
result = pipeline(7)
