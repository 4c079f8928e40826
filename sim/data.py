"""Published statistics: loading the data file and checking the figures the config cites.

The config cites a figure by its ``id`` beside each parameter that comes from a publication; the
``citations`` block lists those whose value must match the source.  A cited value matches when it
equals a number in the published text, read as it is, as a percentage, or converted from a yearly
or daily figure to a weekly one (the model's time step).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any, Mapping

from sim.config import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
_NUMBER = re.compile(r"\d[\d,]*\.?\d*")


def resolve(path: str | Path) -> Path:
    """A data path as written in the config: absolute, or relative to the repository root."""
    p = Path(path)
    return p if p.is_absolute() else (REPO_ROOT / p).resolve()


def load_published(path: str | Path) -> dict[str, dict[str, str]]:
    """Rows of the published-statistics file by id; a one-line error if it is missing or malformed."""
    p = resolve(path)
    if not p.is_file():
        raise ConfigError(f"data_file must be an existing CSV of published statistics, got {str(p)!r} (not found)")
    with p.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "id" not in rows[0] or "value" not in rows[0]:
        raise ConfigError(f"data_file must have columns id and value, got {str(p)!r}")
    return {r["id"]: r for r in rows}


def numbers_in(text: str) -> list[float]:
    """Every number in a published value text ("10-15: 8,690 (26%)" -> [10, 15, 8690, 26])."""
    return [float(m.replace(",", "")) for m in _NUMBER.findall(text) if m.replace(",", "").replace(".", "")]


def _matches(value: float, published: list[float], tol: float = 0.02) -> bool:
    for n in published:
        for candidate in (n, n / 100.0, n / 52.0, n * 7.0):
            if candidate and abs(value - candidate) <= tol * abs(candidate):
                return True
    return False


def _lookup(cfg: Any, dotted: str) -> Any:
    node = cfg
    for part in dotted.split("."):
        if isinstance(node, Mapping):
            key = int(part) if part.isdigit() and int(part) in node else part
            node = node[key]
        else:
            node = getattr(node, part)
    return node


def check_citations(cfg: Any, citations: Mapping[str, str], published: Mapping[str, Mapping[str, str]]) -> None:
    """Each cited parameter must exist, cite a known id, and agree with that figure."""
    for dotted, ident in citations.items():
        if ident not in published:
            raise ConfigError(f"citations.{dotted} must name an id in the data file, got {ident!r}")
        try:
            value = float(_lookup(cfg, dotted))
        except (KeyError, AttributeError, TypeError):
            raise ConfigError(f"citations key must be a numeric parameter, got {dotted!r}") from None
        if not _matches(value, numbers_in(published[ident]["value"])):
            raise ConfigError(
                f"{dotted} must agree with {ident} ({published[ident]['value'][:60]!r}), got {value!r}"
            )
