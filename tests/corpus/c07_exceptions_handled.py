class AppError(Exception):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code


def risky(x):
    if x < 0:
        raise ValueError(f"negative: {x}")
    if x == 0:
        raise AppError(42, "zero")
    return 10 / x


results = []
for x in [5, -1, 0, 2]:
    try:
        results.append(risky(x))
    except ValueError as e:
        results.append(f"VE {e}")
    except AppError as e:
        results.append(f"AE {e.code} {e}")
    else:
        results.append("ok")
    finally:
        results.append("|")
print(results)

try:
    try:
        {}["missing"]
    except KeyError as e:
        raise RuntimeError("wrapped") from e
except RuntimeError as e:
    chained = type(e.__cause__).__name__
print("chained", chained)

try:
    raise ExceptionGroup("many", [ValueError(1), TypeError(2)])
except* ValueError as eg:
    print("value errors", len(eg.exceptions))
except* TypeError as eg:
    print("type errors", len(eg.exceptions))
n_results = len(results)
