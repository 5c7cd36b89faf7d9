"""A module docstring: serial and eager must agree on __doc__."""
from __future__ import annotations

import warnings

limit: int = 10
ratio: float


def scale(value: Number, factor: Factor = 2) -> Scaled:
    """Forward references need the future import."""
    return value * factor


"""A bare string between sections: not the module docstring."""
print(scale(21))
print(__doc__)
print(sorted(__annotations__))
print(scale.__annotations__)
print(scale.__doc__)
warnings.warn("a warning with a program line")
results = [scale(i) for i in range(limit)]
print(results)
