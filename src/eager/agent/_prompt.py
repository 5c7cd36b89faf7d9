"""What a model is told about the session its code runs in: the default system prompts (pure).

:func:`system_prompt` is the prompt of a code agent (:class:`~eager.agent.Agent`, ``eager
chat``): how to write code (``code="fence"``: ```python blocks; ``code="tool"``: calls of the
code tool), what runs it (one persistent session, statements run while the model writes, a
failing statement cuts the reply), what it shows (``display="notebook"``: the value of each
block's last expression, figures as images, ``!cmd`` and ``%magic``; ``"script"``: only what
is printed), where the files are, and how to finish (the loop's conventions: an answer without
code, after ``Final Answer:``; or ``final_answer(value)``). :func:`program_prompt` is the
prompt of a one-program request (``eager ask``, ``eager run --base-url``). :func:`files_line`
names the files of the working folder (also after a caller's own system prompt).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal

from .._tools import Tool

__all__ = ["files_line", "program_prompt", "system_prompt"]

#: How a run shows results (the runtime's ``display``; see :func:`system_prompt`).
DisplayMode = Literal["notebook", "script"]

#: Files listed by name at most (the rest counted).
MAX_FILES_LISTED = 30


def _size(path: str) -> str:
    try:
        n = float(os.path.getsize(path))
    except OSError:
        return ""
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f" ({n:.0f} {unit})" if unit == "bytes" else f" ({n:.1f} {unit})"
        n /= 1024
    return ""  # pragma: no cover


def files_line(files: Sequence[str]) -> str:
    """``Files in the working folder: a.csv (1.2 KB), b.txt (40 bytes).`` ("" for no files).

    Each entry is a path (its size is read when it exists) or a bare name; the model sees
    names only, as its code opens them (relative to the working folder).
    """
    if not files:
        return ""
    named = [os.path.basename(f.rstrip("/")) + _size(f) for f in files[:MAX_FILES_LISTED]]
    more = len(files) - MAX_FILES_LISTED
    tail = f", and {more} more" if more > 0 else ""
    return f"Files in the working folder (open them by name): {', '.join(named)}{tail}."


def _session(display: DisplayMode) -> str:
    return "IPython-like session" if display == "notebook" else "Python session"


def _display_lines(display: DisplayMode, unit: str, *, agent: bool = True) -> list[str]:
    you = " to you" if agent else ""
    if display == "notebook":
        figures = "come back to you as images" if agent else "are shown as images"
        return [
            f"As in a Jupyter notebook, the value of the last expression of each {unit} is "
            f"shown{you}; print() anything else you want to see. Figures (matplotlib) "
            f"{figures}. `!command` shell lines and `%magic` lines work.",
        ]
    return [
        f"The code runs as a script: only what it prints is shown{you}, so print() every "
        "value you want to see. Save figures to files (plt.savefig) instead of showing them.",
    ]


def system_prompt(
    *,
    code: Literal["fence", "tool"] = "fence",
    display: DisplayMode = "notebook",
    files: Sequence[str] = (),
    protocol: str = "chat",
    tool_name: str = "python",
    tool_argument: str = "code",
    network: bool | None = None,
    final_answer: bool = True,
    tools: Sequence[Tool] = (),
) -> str:
    """The default system prompt of a code agent (see the module doc).

    ``files``: paths or names of the data files in the session's folder (listed by name);
    ``protocol``: the model's protocol (``chat``, ``responses``, ``anthropic``: how its tool
    is named); ``network``: False adds that the session has no network (a sandbox), None says
    nothing; ``final_answer``: the session defines ``final_answer(value)``; ``tools``: host
    tools the code can call (their Python signatures and docs are listed, as code-mode agents
    list them).
    """
    if code == "tool":
        kind = "tool" if protocol == "anthropic" else "function"
        how = (
            f"To run Python, call the {kind} `{tool_name}` with the code in its "
            f"`{tool_argument}` argument. Every call runs in one persistent {_session(display)}: "
            "variables, imports, functions and files persist from call to call."
        )
        unit = "call"
        wait = "The call's result (output or error) comes back to you as the tool result."
        done = f"reply without calling `{tool_name}`"
    else:
        how = (
            "To run Python, write it in a ```python code block. Every block runs in one "
            f"persistent {_session(display)}: variables, imports, functions and files persist "
            "from block to block and from reply to reply."
        )
        unit = "code block"
        wait = (
            "After a code block, end your reply: its output (or error) comes back to you in "
            "the next message."
        )
        done = "reply without code"
    lines = [
        "You solve tasks by writing Python code that is run for you.",
        "",
        how,
        "Your code runs while you write it, statement by statement. If a statement fails, "
        "your reply is cut off there and you get the error: fix it in your next reply; what "
        "ran before the error has run (do not run it again).",
        *_display_lines(display, unit),
        wait,
    ]
    listed = files_line(files)
    lines.append(listed or "Files are in the working folder: open them by name.")
    if network is False:
        lines.append("The session has no network access (installing packages is not possible).")
    if tools:
        lines += ["", *tools_lines(tools)]
    finish = f"When you know the answer, {done} and write `Final Answer:` followed by the answer."
    if final_answer:
        finish += " You can also end from code with `final_answer(value)`."
    lines += ["", finish]
    return "\n".join(lines)


def tools_lines(tools: Sequence[Tool]) -> list[str]:
    """How the model learns the host tools: call them like functions (they are defined in the
    session), results come back as values; each tool's signature and doc as Python."""
    acting = [t.name for t in tools if not t.read_only]
    lines = [
        "These functions are already defined in the session: call them from your code like any "
        "Python function (their results are plain values: lists, dicts, strings, numbers). A "
        "failing call raises an exception at the calling line.",
    ]
    if acting:
        lines.append(
            "Functions that act on the world ("
            + ", ".join(f"`{n}`" for n in acting)
            + ") run only once your code block is complete."
        )
    lines += ["", "```python", *(t.python_signature() + "\n" for t in tools), "```"]
    return lines


def program_prompt(
    *,
    display: DisplayMode = "notebook",
    files: Sequence[str] = (),
    network: bool | None = None,
) -> str:
    """The default system prompt of a request for one whole program (``eager ask``/``run``)."""
    lines = [
        "You write Python programs. Answer with ONE complete, self-contained Python program in "
        "a single ```python code block; a sentence before it is fine, nothing after it.",
        f"The program runs in a fresh {_session(display)} while you write it, statement by "
        "statement: keep any function you define before the code that uses it, and do not "
        "read input. If a statement fails, your answer is cut off there.",
        *_display_lines(display, "program", agent=False),
    ]
    listed = files_line(files)
    if listed:
        lines.append(listed)
    if network is False:
        lines.append("The session has no network access (installing packages is not possible).")
    return "\n".join(lines)
