"""TLCP text encoding for the Lightstreamer simulator: request parsing, server lines, update values.

Hand-written because no library speaks TLCP on the server side; it is small and every rule here was
checked against the real ``lightstreamer-client-lib`` (see ``shared/reference/lightstreamer.md``).

Update values (``U,<subId>,<item>,v1|v2|...``): an empty token means "unchanged since the previous
update of this item", ``#`` null, ``$`` the empty string, ``^N`` the next N fields unchanged, anything
else a percent-encoded UTF-8 value. :func:`encode_update` never emits an "unchanged" token when
``prev`` is None, which is how the first update after every ``SUBOK`` must look.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote

__all__ = [
    "DATA_PREFIXES",
    "PROTOCOLS",
    "Request",
    "decode_update",
    "encode_message",
    "encode_update",
    "encode_value",
    "is_data_line",
    "parse_frame",
    "parse_params",
]

#: WebSocket subprotocols accepted (the 2.x client speaks 2.5.0; 1.0.x clients speak 2.4.0).
PROTOCOLS = ("TLCP-2.5.0.lightstreamer.com", "TLCP-2.4.0.lightstreamer.com")

#: Lines the client counts as data notifications (one each) for ``LS_recovery_from`` / ``PROG``.
DATA_PREFIXES = ("U,", "SUBOK,", "SUBCMD,", "UNSUB,", "EOS,", "CS,", "OV,", "CONF,", "MSGDONE,", "MSGFAIL,")

_RUN = 3  # runs of at least this many unchanged fields become one ``^N`` token


def is_data_line(line: str) -> bool:
    """True when the client counts ``line`` as one data notification."""
    return line.startswith(DATA_PREFIXES)


def _pct(ch: str) -> str:
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8"))


def encode_value(value: str | None) -> str:
    """One field value as a TLCP token that the client decodes back to exactly ``value``."""
    if value is None:
        return "#"
    if value == "":
        return "$"
    if "%" in value or "|" in value or "\r" in value or "\n" in value:
        value = "".join(_pct(c) if c in "%|\r\n" else c for c in value)
    if value in ("#", "$") or value.startswith("^"):
        value = _pct(value[0]) + value[1:]
    return value


def encode_message(text: str) -> str:
    """A free-text argument (REQERR/CONERR/END message): percent-encode separators too."""
    return "".join(_pct(c) if c in "%|,\r\n" else c for c in text)


def encode_update(prev: Sequence[str | None] | None, values: Sequence[str | None]) -> str:
    """The ``v1|v2|...`` part of a ``U`` line; ``prev`` None forces every field to be sent in full."""
    if prev is None or len(prev) != len(values):
        return "|".join(encode_value(v) for v in values)
    out: list[str] = []
    run = 0
    for old, new in zip(prev, values, strict=True):
        if old == new:
            run += 1
            continue
        if run:
            out.extend([f"^{run}"] if run >= _RUN else [""] * run)
            run = 0
        out.append(encode_value(new))
    if run:
        out.extend([f"^{run}"] if run >= _RUN else [""] * run)
    return "|".join(out)


def decode_update(prev: Sequence[str | None] | None, payload: str, n_fields: int) -> list[str | None]:
    """Inverse of :func:`encode_update` (used by tests and diagnostics, not by the real client).

    Raises ValueError when the payload refers to a previous value that does not exist or has the
    wrong number of fields.
    """
    out: list[str | None] = []

    def unchanged() -> str | None:
        i = len(out)
        if prev is None or i >= len(prev):
            raise ValueError(f"field {i + 1} marked unchanged but there is no previous value")
        return prev[i]

    for tok in payload.split("|"):
        if tok == "":
            out.append(unchanged())
        elif tok == "#":
            out.append(None)
        elif tok == "$":
            out.append("")
        elif tok.startswith("^"):
            if tok[1:2] in ("P", "T"):
                raise ValueError(f"diff token {tok[:2]!r} not supported")
            for _ in range(int(tok[1:])):
                out.append(unchanged())
        else:
            out.append(unquote(tok, errors="strict"))
    if len(out) != n_fields:
        raise ValueError(f"update carries {len(out)} fields, expected {n_fields}")
    return out


def parse_params(text: str) -> dict[str, str]:
    """``LS_a=1&LS_b=x%7Cy`` → dict (percent-decoding only; ``+`` stays a plus, as the client sends it)."""
    out: dict[str, str] = {}
    for part in text.split("&"):
        if not part:
            continue
        key, _, val = part.partition("=")
        out[unquote(key)] = unquote(val)
    return out


class Request:
    """One client request: its verb (``create_session``, ``control``, ...) and its parameter dicts.

    A ``control`` frame may hold several requests, one parameter line each.
    """

    __slots__ = ("params", "verb")

    def __init__(self, verb: str, params: list[dict[str, str]]) -> None:
        self.verb = verb
        self.params = params

    def __repr__(self) -> str:
        return f"Request({self.verb!r}, {len(self.params)} param set(s))"


def parse_frame(text: str) -> list[Request]:
    """Split a client WebSocket frame into requests.

    The client sends ``wsok`` alone, or ``<verb>\\r\\n<params>[\\r\\n<params>...]``.
    """
    lines = [ln for ln in text.split("\r\n") if ln != ""]
    if not lines:
        return []
    verb = lines[0].strip()
    if "=" in verb:  # defensive: parameters without a verb line
        return [Request("", [parse_params(ln) for ln in lines])]
    return [Request(verb, [parse_params(ln) for ln in lines[1:]])]
