"""Argument checks made before anything starts, and JSON that is always valid.

The ``argparse`` types (:func:`positive_float`, ...) reject a bad number while the command line
is parsed (one line naming the flag, exit 2); :func:`check_output_path` and :func:`check_folder`
check paths before any session starts or any token is paid for; :func:`dumps` writes JSON with
non-finite numbers as ``null`` (``Infinity`` and ``NaN`` are not JSON).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
from pathlib import Path
from typing import Any

from .._errors import UsageError

__all__ = [
    "check_folder",
    "check_output_path",
    "dumps",
    "non_negative_float",
    "non_negative_int",
    "positive_float",
    "positive_int",
]


def _number(text: str, kind: type[float] | type[int]) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A number > 0 (seconds, a rate)."""
    value = _number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """A number >= 0."""
    value = _number(text, float)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1."""
    value = int(_number(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0."""
    value = int(_number(text, int))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def check_output_path(path: str | Path | None, flag: str, *, plot: bool = False) -> None:
    """Raise :class:`~eager.UsageError` unless ``path`` can be written (its folder exists and is
    writable, it is no folder); ``plot=True`` also wants matplotlib and a known image type."""
    if path is None:
        return
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{flag} {path}: is a folder, give a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{flag} {path}: no such folder {str(parent)!r}")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise UsageError(f"{flag} {path}: not writable")
    if plot:
        if importlib.util.find_spec("matplotlib") is None:
            raise UsageError(f"{flag} needs matplotlib: pip install 'eager[plot]'")
        suffix = p.suffix.lower().lstrip(".")
        if suffix not in ("png", "svg", "pdf", "jpg", "jpeg"):
            raise UsageError(f"{flag} {path}: give a .png, .svg or .pdf file name")


def check_folder(path: str | None, flag: str = "--cwd") -> None:
    """Raise :class:`~eager.UsageError` unless ``path`` (when given) is an existing folder."""
    if path is None:
        return
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{flag} {path}: no such folder")
    if not p.is_dir():
        raise UsageError(f"{flag} {path}: not a folder")


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def dumps(obj: Any, **options: Any) -> str:
    """``json.dumps`` with infinities and NaN written as ``null``: always valid JSON."""
    return json.dumps(_finite(obj), allow_nan=False, **options)
