import re

data = [3, 8, 1, 9, 4, 7]
if (n := len(data)) > 5:
    print(f"list is long ({n} elements)")
chunks = []
it = iter(data)
while (block := [x for _, x in zip(range(2), it)]):
    chunks.append(block)
print(chunks)
filtered = [y for x in data if (y := x * 2) > 8]
print(filtered)
name = "Ada"
width = 12
print(f"{'nested' + ' quotes'!r:>{width}}|")
print(f"{name=}, {width * 2 = }")
print(f"{3.14159:.2f} {1234567:,} {255:#x} {0.25:.0%}")
print(f"{'{'}braces{'}'} and {{literal}}")
d = {"key": "value"}
print(f"""dict lookup: {d['key']} {d.get('nope', "default")} {'yes' if d else "no"}""")
m = re.match(r"(?P<word>\w+)", "hello world")
print(f"{m['word'].upper()!s:*^11}")
