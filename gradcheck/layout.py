"""The grammar of ``LayerSpec.layout``: each array argument's axes by letter, from which
the bad-input suite (``gradcheck.badinput``) knows which axes must agree and how an
argument's rank may vary.

    "x:N,*D w:D,M b:M"

One entry per array argument (``params.Wq`` for an array inside a dict argument), its
axes by letter, comma-separated. A letter shared by two axes must agree (D above); a digit
is a fixed size (groupnorm's gamma ``1,C,1,1``); ``*D`` is any number of trailing axes
whose product is D (``*`` alone: any); axes before ``|`` broadcast and may be dropped or
added (attention's ``N,A|S,d``); a ``~`` prefix makes the whole entry broadcastable (a
mask). ``N`` is the batch axis.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Axes", "parse_layout", "tied_letters"]


@dataclass(frozen=True)
class Axes:
    """One layout entry: its axis letters and how its rank may vary."""

    letters: tuple[str, ...]  # one per fixed axis ("1" style digits are fixed sizes)
    tail: str | None = None  # "*D": trailing axes of product D ("" for a bare "*")
    lead: int = 0  # the first ``lead`` axes broadcast
    broadcast: bool = False  # "~": the whole entry broadcasts


def parse_layout(layout: str) -> dict[str, Axes]:
    """"x:N,*D w:D,M" -> {"x": Axes(("N",), tail="D"), "w": Axes(("D", "M"))}."""
    out = {}
    for entry in layout.split():
        name, _, spec = entry.partition(":")
        broadcast = spec.startswith("~")
        spec = spec.lstrip("~")
        lead = 0
        if "|" in spec:
            head, spec = spec.split("|")
            lead = len(head.split(","))
            spec = f"{head},{spec}"
        letters, tail = [], None
        for a in spec.split(","):
            if a.startswith("*"):
                tail = a[1:]
            else:
                letters.append(a)
        out[name] = Axes(tuple(letters), tail, lead, broadcast)
    return out


def tied_letters(layout: dict[str, Axes]) -> set[str]:
    """Letters (and digits) that must agree: shared by two axes, or fixed sizes."""
    seen: dict[str, int] = {}
    for ax in layout.values():
        for letter in (*ax.letters, *([ax.tail] if ax.tail else [])):
            seen[letter] = seen.get(letter, 0) + 1
    return {k for k, n in seen.items() if n > 1 or k.isdigit()}
