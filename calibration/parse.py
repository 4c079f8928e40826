"""Parse the `value` column of the published statistics into numbers.

Values are written as published, often compound:

    >>> parse_value("10-15: 39%; 16+: 23%")
    {'10-15': 39.0, '16+': 23.0}
    >>> parse_value("2020: 80,000; 2021: 80,780")
    {'2020': 80000.0, '2021': 80780.0}
    >>> parse_value("homes 144/315/687/931; children 147/304/724/982")
    {'homes': [144.0, 315.0, 687.0, 931.0], 'children': [147.0, 304.0, 724.0, 982.0]}
    >>> parse_value("£12,450-£23,362/week")
    Range(lo=12450.0, hi=23362.0)

Numbers keep the published unit: 39% is 39.0 and "£3.1bn" is 3.1e9 (targets.yaml scales them). What a
parse returns:

- ``float`` for one number ("108", "~50", "89.9%", "£440m");
- ``Range(lo, hi)`` for "a-b" ("60-70", "£12,450-£23,362/week");
- ``list[float]`` for a series ("144/315/687/931", "43 -> 134");
- ``dict`` (in the published order) for compound values, split at top-level ";", "|" and ", "; each part
  is "label: value", "label value" ("started 32,050", "MoJ 114") or "value label" ("23.4% <3m",
  "14 homes"); an unlabelled part is keyed by its position ("0", "1", ...); a part without a number
  keeps its text;
- ``{"value": x, "note": y}`` for "x (y)", the bracket parsed the same way ("55,200 (73%)").

``select(parsed, "2018.children")`` walks a dotted path (dict keys, list indices, ``lo``/``hi``/``mid``
of a range, ``value``/``note``); ``numbers(text)`` lists every number in a text, in order.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple


class Range(NamedTuple):
    lo: float
    hi: float

    @property
    def mid(self) -> float:
        return (self.lo + self.hi) / 2.0


_MULT = {"bn": 1e9, "m": 1e6, "k": 1e3}
# One number as published: optional ~ or sign, digits with thousands commas, optional decimals, then % or,
# for money, a multiplier (£3.1bn, £440m); never glued to a letter ("6m" for six months is not a number).
_NUM = r"[~≈]?(?:>=|<=|[<>+])?(?:£\d[\d,]*(?:\.\d+)?(?:bn|m|k)?|\d[\d,]*(?:\.\d+)?%?)(?![A-Za-z])"
_NUM_RE = re.compile(_NUM)
_FULL_NUM = re.compile(rf"^\s*({_NUM})(?:\s*/\s*[a-z][a-z ]*)?\s*$", re.I)   # "115/month" is 115
_RANGE = re.compile(rf"^\s*({_NUM})\s*[-–]\s*({_NUM})(?:\s*/\s*[a-z][a-z ]*)?\s*$", re.I)
_SERIES = re.compile(rf"^\s*{_NUM}(?:\s*/\s*{_NUM})+\s*$")
_ARROW = re.compile(r"\s*(?:->|→)\s*")
_NUM_FIRST = re.compile(rf"^\s*({_NUM})\s+(.+?)\s*$")
_LABEL_FIRST = re.compile(rf"^\s*([A-Za-z][^:\d£]*?)\s+({_NUM}(?:\s*(?:/|->|→|-)\s*{_NUM})*)(?:\s*/\s*[a-z]+)?(?:\s+(.*?))?\s*$")
_OF = re.compile(rf"^\s*({_NUM})\s+of\s+({_NUM})\s*$")
_PERIOD_LABEL = re.compile(r"^\s*((?:19|20)\d\d(?:[/-]\d{2,4})?)\s+(.*\d.*)$")


def parse_number(token: str) -> float:
    """One number: '£12,450' -> 12450.0, '39%' -> 39.0, '~50' -> 50.0, '£3.1bn' -> 3.1e9."""
    t = token.strip().lstrip("~≈").lstrip("<>=+").replace(",", "")
    money = t.startswith("£")
    t = t.lstrip("£")
    mult = 1.0
    if t.endswith("%"):
        t = t[:-1]
    elif money:
        for suffix, m in _MULT.items():
            if t.endswith(suffix):
                t, mult = t[: -len(suffix)], m
                break
    return float(t) * mult


def numbers(text: str) -> list[float]:
    """Every number in a text, in order (years included)."""
    return [parse_number(m.group(0)) for m in _NUM_RE.finditer(str(text))]


def _split_top(text: str, seps: tuple[str, ...]) -> list[str]:
    """Split at separators outside brackets."""
    parts, depth, cur, i = [], 0, [], 0
    while i < len(text):
        c = text[i]
        if c == "(":
            depth += 1
        elif c == ")":
            depth = max(depth - 1, 0)
        if depth == 0:
            sep = next((s for s in seps if text.startswith(s, i)), None)
            if sep is not None:
                parts.append("".join(cur))
                cur = []
                i += len(sep)
                continue
        cur.append(c)
        i += 1
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _scalar(text: str) -> Any:
    """A number, range, series or arrow series, else None."""
    t = text.strip()
    m = _FULL_NUM.match(t)
    if m:
        return parse_number(m.group(1))
    m = _RANGE.match(t)
    if m:
        return Range(parse_number(m.group(1)), parse_number(m.group(2)))
    if _SERIES.match(t):
        return [parse_number(x) for x in t.split("/")]
    if _ARROW.search(t):
        items = _ARROW.split(t)
        vals = [_scalar(x) for x in items]
        if all(isinstance(v, float) for v in vals):
            return vals
    return None


def _part(text: str) -> tuple[str | None, Any]:
    """(label, value) of one part of a compound value; label None if the part is unlabelled."""
    t = text.strip()
    # A trailing bracket is a note on the main value.
    m = re.match(r"^(.*?)\s*\(([^()]*(?:\([^()]*\)[^()]*)*)\)\s*$", t)
    if m and m.group(1).strip():
        label, main = _part(m.group(1))
        note = parse_value(m.group(2))
        if isinstance(main, dict) and "value" in main and "note" not in main:
            return label, {**main, "note": note}
        return label, {"value": main, "note": note}
    if ":" in t:
        label, rest = t.split(":", 1)
        return label.strip(), parse_value(rest)
    v = _scalar(t)
    if v is not None:
        return None, v
    m = _OF.match(t)                      # "13,700 of 60,430"
    if m:
        return None, {"value": parse_number(m.group(1)), "of": parse_number(m.group(2))}
    m = _PERIOD_LABEL.match(t)            # "2022/23 £4.7bn vs £4.1bn budget"
    if m:
        return m.group(1), _part(m.group(2))[1]
    m = _LABEL_FIRST.match(t)             # "started 32,050", "total £3.1bn in 2023-24"
    if m:
        v = _scalar(m.group(2))
        if v is not None:
            return m.group(1).strip(), v
    m = _NUM_FIRST.match(t)
    if m:
        rest = m.group(2)
        if not _ARROW.match(rest):
            return rest.strip(), parse_number(m.group(1))
    # "120 -> 1,510 of placements" and other shapes: the numbers, in order.
    ns = numbers(t)
    if ns:
        return None, ns[0] if len(ns) == 1 else ns
    return None, t


def parse_value(text: Any) -> Any:
    """A published value as numbers (see the module docstring)."""
    if isinstance(text, (int, float)):
        return float(text)
    t = str(text).strip()
    v = _scalar(t)
    if v is not None:
        return v
    parts = _split_top(t, ("|", ";"))
    if len(parts) == 1:
        parts = _split_top(t, (", ",))
        if len(parts) == 1:
            label, value = _part(t)
            return {label: value} if label is not None else value
    out: dict[str, Any] = {}
    for i, p in enumerate(parts):
        # Inside a part, ", " separates items ("2018: 14 homes, 233 approved").
        label, value = _part(p)
        key = label if label is not None else str(i)
        if key in out:
            key = f"{key}#{i}"
        out[key] = value
    # A part like "2018: 14 homes, 233 approved, ..." parses its items into a dict too.
    for k, v in list(out.items()):
        if isinstance(v, str) and ", " in v:
            out[k] = parse_value(v)
    return out


def select(parsed: Any, path: str | None) -> float:
    """Walk a dotted path into a parsed value and return the number there."""
    node = parsed
    if path:
        for step in str(path).split("."):
            if isinstance(node, dict):
                if step not in node:
                    raise KeyError(f"{step!r} not in {list(node)}")
                node = node[step]
            elif isinstance(node, Range):
                node = getattr(node, step)
            elif isinstance(node, list):
                node = node[int(step)]
            else:
                raise KeyError(f"cannot select {step!r} from {node!r}")
    if isinstance(node, dict) and "value" in node:
        node = node["value"]
    if isinstance(node, Range):
        return float(node.mid)
    if not isinstance(node, (int, float)):
        raise ValueError(f"{path!r} selects {node!r}, not a number")
    return float(node)
