import inspect
import sys
import traceback


def where():
    return inspect.currentframe().f_back.f_lineno


line_here = where()
print("called from line", line_here)


def failing(x):
    return 1 / x


try:
    failing(0)
except ZeroDivisionError:
    tb = traceback.format_exc()
lines = [l.strip() for l in tb.splitlines() if l.strip().startswith("File")]
print(len(lines))
print([l.split(", ")[1] for l in lines])
print(tb.splitlines()[-1])
exc_info_line = None
try:
    {}["k"]
except KeyError:
    exc_info_line = sys.exc_info()[2].tb_lineno
print("exception at line", exc_info_line)
src = inspect.getsource(failing)
print(src)
sig = str(inspect.signature(failing))
print(sig)
