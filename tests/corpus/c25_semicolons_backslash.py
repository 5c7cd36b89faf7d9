a = 1; b = 2; c = a + b
print(a, b, c); print("two statements")
total = 1 + \
    2 + \
    3
print(total)
long_condition = a == 1 and \
    b == 2
if long_condition: print("inline if")
for i in range(2): print("loop", i); print("again", i)
x = [1,
     2,
     3]; y = (4,
              5)
print(x, y)
assert total == 6, \
    "bad total"
value = \
    "continued"
print(value)
def f(): return "one-liner"
print(f())
class K: attr = 5
print(K.attr)
