x = 1
if x:
    print("crlf line endings")
else:
    print("no")
def f(a):
    return a * 2

print(f(21))
for i in range(3):
    print(i)
y = f(x)
