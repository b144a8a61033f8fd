"""What the commands share about user errors: checked flag types, one-line errors, --debug.

A user error (a bad flag value, a missing file, a run folder that is taken) is a
``UsageError``: the command prints one line ``<prog>: error: <what>`` on stderr and exits
with 2, as argparse does. Anything else is a bug: one line naming the exception and
pointing to ``--debug`` (or ``LAYERKIT_DEBUG=1``), which show the full traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Callable

__all__ = ["UsageError", "Parser", "run_command", "positive_int", "nonneg_int",
           "positive_float", "nonneg_float", "probability", "decay", "sizes"]


class UsageError(Exception):
    """A mistake in how the command was called: one line, exit 2, no traceback."""


class Parser(argparse.ArgumentParser):
    """argparse with whole flag names only and errors as a one-line ``UsageError``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message):
        raise UsageError(message)


def run_command(prog: str, main: Callable[[list[str]], int], argv=None) -> int:
    """Run ``main(argv)``: a UsageError -> one line and 2, Ctrl-C -> one line and 130."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv or os.environ.get("LAYERKIT_DEBUG", "") not in ("", "0")
    try:
        return main(argv)
    except UsageError as e:
        if debug:
            raise
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug: say what, and how to see where
        if debug:
            raise
        print(f"{prog}: internal error: {type(e).__name__}: {e} (run again with --debug "
              "for the traceback)", file=sys.stderr)
        return 1


# --- flag types: each names what it allows; argparse adds the flag's name ------------------


def _number(kind, s: str):
    try:
        v = kind(s)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"needs {'an integer' if kind is int else 'a number'}; got {s!r}") from None
    if kind is float and not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"needs a finite number; got {s!r}")
    return v


def _checked(kind, ok: Callable, allowed: str, name: str):
    def parse(s: str):
        v = _number(kind, s)
        if not ok(v):
            raise argparse.ArgumentTypeError(f"must be {allowed}; got {s!r}")
        return v
    parse.__name__ = name  # argparse names the type in some messages
    return parse


positive_int = _checked(int, lambda v: v >= 1, "an integer >= 1", "positive_int")
nonneg_int = _checked(int, lambda v: v >= 0, "an integer >= 0", "nonneg_int")
positive_float = _checked(float, lambda v: v > 0, "a number > 0", "positive_float")
nonneg_float = _checked(float, lambda v: v >= 0, "a number >= 0", "nonneg_float")
probability = _checked(float, lambda v: 0 < v <= 1, "in (0, 1]", "probability")
decay = _checked(float, lambda v: 0 < v <= 1, "in (0, 1] (1 = no decay)", "decay")


def sizes(s: str) -> str:
    """'100, 100' -> '100,100': positive integers separated by commas."""
    try:
        values = [int(p) for p in s.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            f"must be positive integers separated by commas, e.g. 100,100; got {s!r}")
    return ",".join(map(str, values))
