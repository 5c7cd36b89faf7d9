import sys

sys.stdout.write("written directly\n")
print("to stderr", file=sys.stderr)
print("partial ", end="")
print("line completed")
sys.stderr.write("another error line\n")
for i in range(3):
    print(i, end=" ")
print()
print("first half", end="")
n = sys.stdout.write(" second half\n")
print("chars written:", n)
sys.stdout.flush()
print("unicode: ünïcödé ✓ 日本", flush=True)
sys.stdout.write("no trailing newline at the end")
