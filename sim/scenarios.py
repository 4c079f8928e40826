"""Scenarios and interventions: policy changes plugged into the model as small objects.

An intervention has ``initialise(model)`` (after the population is built, before week 0) and
``apply(model, week)`` (at the start of each week).  The baseline has none.
"""

from __future__ import annotations

from sim.config import CarePathwaysConfig


class Intervention:
    """A mechanism acting on the model's parameters and agents."""

    name = "intervention"

    def initialise(self, model) -> None:  # pragma: no cover - interface
        pass

    def apply(self, model, week: int) -> None:  # pragma: no cover - interface
        pass


def interventions_for(cfg: CarePathwaysConfig) -> list[Intervention]:
    """The interventions a configuration's scenario switches on (none for the baseline)."""
    return []
