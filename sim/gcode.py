"""Reading a received command line the way the Farmduino firmware does (reference 1.1).

The firmware is lenient rather than strict, and a faithful simulator must be too: tokens are
split on spaces, CR and LF; the first must be an upper-case G or F with a number, or the
command is unknown; every other token is one letter and a number read with C's `atof`
(the longest numeric prefix, 0 when there is none). X, Y and Z stay millimetres; every other
value is truncated to an integer. Omitted letters read as 0. Nothing here ever raises.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

_SEPARATORS = re.compile(r"[ \r\n]+")
_CODE = re.compile(r"([GF])(\d{1,2})")
_NUMERIC_PREFIX = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")
_MILLIMETRE_LETTERS = frozenset("XYZ")


@dataclass(frozen=True)
class ReceivedCommand:
    """One command line as the firmware understood it."""

    code: str
    """Canonical code ("G0", "F9", "F83"); "" when the first token is not G/F and digits."""
    values: Mapping[str, float]
    q: int

    def mm(self, letter: str) -> float:
        return self.values.get(letter, 0.0)

    def whole(self, letter: str) -> int:
        return int(self.values.get(letter, 0.0))


def parse_command(line: bytes) -> ReceivedCommand:
    """The code, arguments and Q tag of one received line (its LF already removed)."""
    tokens = [token for token in _SEPARATORS.split(line.decode("latin-1")) if token]
    if not tokens:
        return ReceivedCommand(code="", values={}, q=0)
    values = dict(_argument(token) for token in tokens[1:])
    return ReceivedCommand(
        code=_canonical_code(tokens[0]), values=values, q=int(values.get("Q", 0))
    )


def _canonical_code(token: str) -> str:
    match = _CODE.fullmatch(token)
    if match is None:
        return ""
    return f"{match.group(1)}{int(match.group(2))}"


def _argument(token: str) -> tuple[str, float]:
    letter = token[0]
    value = _atof(token[1:])
    return letter, value if letter in _MILLIMETRE_LETTERS else float(math.trunc(value))


def _atof(text: str) -> float:
    match = _NUMERIC_PREFIX.match(text)
    if match is None:
        return 0.0
    value = float(match.group())
    # A 99-character line cannot overflow a double, but stay safe for any caller.
    return value if math.isfinite(value) else 0.0
