"""Tool-call extraction: the string value of one argument of a streamed JSON object. Pure."""

from __future__ import annotations

import re

from ._errors import ExtractionError

__all__ = ["ToolArgument"]

_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_PLAIN = re.compile(r'[^"\\]+')
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_WS = " \t\r\n"


class ToolArgument:
    """The string value of one named argument of a streamed JSON object, decoded as it comes."""

    def __init__(self, argument: str) -> None:
        self._argument = argument
        self._pos = 0  # characters consumed, for error messages
        self._state = "start"
        self._key: list[str] = []
        self._is_target = False
        self._found = False
        self._esc = ""  # a pending escape sequence ("\\", "\\u12", ...)
        self._high = ""  # a pending high surrogate
        self._depth = 0  # nesting inside a skipped value
        self._in_str = False  # inside a string of a skipped value
        self._closed_at: list[int] = []  # the code string closed in the last feed, at offset

    def boundaries(self) -> list[int]:
        return self._closed_at

    def _error(self, what: str, c: str) -> ExtractionError:
        got = repr(c) if c else "the end of the output"
        return ExtractionError(
            f"malformed tool-call arguments at character {self._pos}: expected {what}, got {got}"
        )

    def feed(self, delta: str) -> str:
        out: list[str] = []
        self._closed_at = []
        i, n = 0, len(delta)
        while i < n:
            st = self._state
            if st == "target":
                if self._esc or self._high:
                    i = self._escape(delta, i, out)
                    continue
                m = _PLAIN.match(delta, i)
                if m:
                    out.append(m.group())
                    self._pos += m.end() - i
                    i = m.end()
                    continue
                c = delta[i]
                i += 1
                self._pos += 1
                if c == '"':
                    self._state = "after_value"
                    self._found = True
                    self._closed_at.append(sum(map(len, out)))
                else:
                    self._esc = "\\"
                continue
            c = delta[i]
            i += 1
            self._pos += 1
            if st == "skip":
                self._skip(c)
            elif st == "key":
                if self._esc:
                    self._esc += c
                    if self._esc[1] != "u" or len(self._esc) == 6:
                        self._key.append(self._esc)
                        self._esc = ""
                elif c == "\\":
                    self._esc = c
                elif c == '"':
                    self._state = "colon"
                else:
                    self._key.append(c)
            elif c in _WS:
                continue
            elif st == "start":
                if c != "{":
                    raise self._error("'{'", c)
                self._state = "key_or_end"
            elif st in ("key_or_end", "key_start"):
                if c == '"':
                    self._key = []
                    self._state = "key"
                elif c == "}" and st == "key_or_end":
                    self._state = "done"
                else:
                    raise self._error("a key string", c)
            elif st == "colon":
                if c != ":":
                    raise self._error("':'", c)
                key = "".join(self._key)
                if "\\" in key:
                    key = _decode_key(key)
                self._is_target = key == self._argument and not self._found
                self._state = "value"
            elif st == "value":
                if self._is_target:
                    if c != '"':
                        raise ExtractionError(
                            f"tool-call argument {self._argument!r} is not a string"
                        )
                    self._state = "target"
                else:
                    self._state = "skip"
                    self._depth = 0
                    self._in_str = False
                    self._skip(c)
            elif st == "after_value":
                if c == ",":
                    self._state = "key_start"
                elif c == "}":
                    self._state = "done"
                else:
                    raise self._error("',' or '}'", c)
            else:  # done
                raise self._error("nothing after the closing '}'", c)
        return "".join(out)

    def _skip(self, c: str) -> None:
        """Consume one character of a value we do not want (string, number, literal, nesting)."""
        if self._in_str:
            if self._esc:
                self._esc = ""
            elif c == "\\":
                self._esc = c
            elif c == '"':
                self._in_str = False
                if self._depth == 0:
                    self._state = "after_value"
            return
        if c == '"':
            self._in_str = True
        elif c in "{[":
            self._depth += 1
        elif c in "}]":
            if self._depth == 0:
                if c == "}":
                    self._state = "done"
                    return
                raise self._error("a value", c)
            self._depth -= 1
            if self._depth == 0:
                self._state = "after_value"
        elif self._depth == 0:
            if c == ",":
                self._state = "key_start"
            elif c in _WS:
                self._state = "after_value"
            elif not (c.isalnum() or c in "+-."):
                raise self._error("a value", c)

    def _escape(self, delta: str, i: int, out: list[str]) -> int:
        """Advance through an escape sequence in the target string; return the new index."""
        c = delta[i]
        esc = self._esc
        if not esc:  # a high surrogate waits for its low half
            if c != "\\":
                out.append(self._high)
                self._high = ""
            else:
                self._esc = "\\"
                self._pos += 1
            return i + 1 if c == "\\" else i
        esc += c
        self._pos += 1
        if len(esc) == 2 and c != "u":
            if self._high:
                out.append(self._high)
                self._high = ""
            if c not in _ESCAPES:
                raise self._error("a JSON escape", "\\" + c)
            out.append(_ESCAPES[c])
            self._esc = ""
            return i + 1
        if len(esc) < 6:
            self._esc = esc
            return i + 1
        if not _HEX4.fullmatch(esc, 2):
            raise self._error("four hex digits", esc)
        code = int(esc[2:], 16)
        self._esc = ""
        ch = chr(code)
        if self._high:
            if 0xDC00 <= code <= 0xDFFF:
                ch = chr(0x10000 + ((ord(self._high) - 0xD800) << 10) + (code - 0xDC00))
            else:
                out.append(self._high)
            self._high = ""
        if 0xD800 <= code <= 0xDBFF and ch == chr(code):
            self._high = ch
        else:
            out.append(ch)
        return i + 1

    def close(self) -> str:
        self._closed_at = []
        if not self._found:
            raise ExtractionError(
                f"tool-call arguments ended without a complete {self._argument!r} string"
            )
        if self._state != "done":
            raise self._error("the closing '}'", "")
        return ""


def _decode_key(raw: str) -> str:
    import json

    try:
        value = json.loads('"' + raw + '"')
    except ValueError as exc:
        raise ExtractionError(f"malformed tool-call argument name {raw!r}") from exc
    return str(value)
