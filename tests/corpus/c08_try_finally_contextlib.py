import contextlib
import io

log = []


@contextlib.contextmanager
def tag(name):
    log.append(f"<{name}>")
    try:
        yield name.upper()
    finally:
        log.append(f"</{name}>")


with tag("a") as a, tag("b") as b:
    log.append(a + b)
print(log)


class Resource:
    def __init__(self):
        self.open = False

    def __enter__(self):
        self.open = True
        return self

    def __exit__(self, et, ev, tb):
        self.open = False
        log.append(f"exit {et.__name__ if et else None}")
        return et is KeyError


with Resource() as r:
    raise KeyError("swallowed")
print("still here", r.open, log[-1])

buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    print("captured line")
captured = buf.getvalue()
print(repr(captured))

with contextlib.suppress(ZeroDivisionError):
    1 / 0
    log.append("never")

with contextlib.ExitStack() as stack:
    names = [stack.enter_context(tag(n)) for n in "xyz"]
print(names, log[-3:])


def f():
    try:
        return "try"
    finally:
        log.append("finally ran")


print(f(), log[-1])
