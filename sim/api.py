"""The Python API: build a configuration and run it from code.

    >>> from sim import build_config, run
    >>> results = run(build_config(["population.scale=0.1", "horizon.years=2"]), write=False)
    >>> results.summary["restriction"]["dol_applications_per_year"]

``metrics(**params)`` is the same as a plain function of keyword parameters returning a flat dict of
the summary's numbers, which is how exploratory-modelling tools (EMA workbench) drive a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd

from sim.config import CarePathwaysConfig, ConfigError, register_schema, to_object
from sim.data import REPO_ROOT, check_citations, load_published

CONFIG_DIR = REPO_ROOT / "scenarios"


@dataclass
class Results:
    """What a run produced: the summary, the weekly table, per-child and per-event tables."""

    config: CarePathwaysConfig
    summary: dict
    weekly: pd.DataFrame
    children: pd.DataFrame
    transitions: pd.DataFrame
    files: dict[str, Path] = field(default_factory=dict)
    model: Any = None

    def metrics(self) -> dict[str, float]:
        from sim.outputs import flatten

        return flatten(self.summary)


def _one_line(exc: Exception, overrides: Sequence[str]) -> str:
    """Hydra/OmegaConf errors, reduced to one line naming the field, the value and what is allowed."""
    from hydra.errors import MissingConfigException

    text = str(exc).strip()
    if isinstance(exc, MissingConfigException) or "Could not find" in text:
        options = sorted(p.stem for p in (CONFIG_DIR / "scenario").glob("*.yaml"))
        bad = next((o.split("=", 1)[1] for o in reversed(overrides) if o.split("=", 1)[0].lstrip("+~") == "scenario"),
                   "?")
        return f"scenario must be one of {options}, got {bad!r}"
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    detail = str(cause).strip()
    first = detail.splitlines()[0] if detail else type(cause).__name__
    key = next((ln.split(":", 1)[1].strip() for ln in detail.splitlines() if ln.strip().startswith("full_key:")), "")
    # The last override of a key is the one that counts.
    value = next((o.split("=", 1)[1] for o in reversed(overrides) if o.split("=", 1)[0].lstrip("+~") == key), None)
    if ("not in '" in first or "not in struct" in detail) and key.rsplit(".", 1)[-1].isdigit():
        schedule = key.rsplit(".", 1)[0]
        return f"{schedule} is a year schedule: set years with ++{schedule}={{2026:70}}"
    if "not in '" in first or "not in struct" in detail:
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        return f"{key or first} is not a known parameter; allowed here: {_allowed_keys(parent)}"
    if "is incompatible with (int)" in first:
        schedule = key.rsplit(".", 1)[0]
        return f"{schedule} is a year schedule: set years with ++{schedule}={{2023:5000}}"
    if "could not be converted" in first:
        kind = first.rsplit(" ", 1)[-1].lower()
        return f"{key} must be a {kind}, got {value!r}" if value is not None else f"{key}: {first}"
    if "Missing mandatory value" in detail:
        return f"{key or first} must be given a value"
    return f"{key + ': ' if key else ''}{first}"


def _allowed_keys(parent: str) -> str:
    """The field names allowed under a dotted path of the schema."""
    from dataclasses import MISSING, fields, is_dataclass

    node: Any = CarePathwaysConfig()
    try:
        for part in filter(None, parent.split(".")):
            node = getattr(node, part)
            if node is None or node is MISSING:
                return "see scenarios/config.yaml"
    except AttributeError:
        return "see scenarios/config.yaml"
    if not is_dataclass(node):
        return "see scenarios/config.yaml"
    return ", ".join(f.name for f in fields(node))


def build_config(overrides: Iterable[str] = (), validate: bool = True) -> CarePathwaysConfig:
    """Compose ``scenarios/config.yaml`` with Hydra-style overrides and check every value."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    overrides = list(overrides)
    register_schema()
    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            cfg = compose(config_name="config", overrides=overrides)
    except ConfigError:
        raise
    except Exception as exc:  # Hydra and OmegaConf raise many types; all become one line
        raise ConfigError(_one_line(exc, overrides)) from None
    return to_config(cfg) if validate else cfg


def to_config(cfg: Any) -> CarePathwaysConfig:
    """A composed Hydra config (DictConfig) to the validated dataclass tree, checking cited figures."""
    try:
        obj = to_object(cfg)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(_one_line(exc, [])) from None
    check_citations(obj, obj.citations, load_published(obj.data_file))
    return obj


def run(cfg: CarePathwaysConfig | None = None, *, overrides: Iterable[str] = (), output_dir: str | Path | None = None,
        write: bool = True, keep_model: bool = False) -> Results:
    """Run one configuration; write the four output files into ``output_dir`` when ``write``."""
    from sim.outputs import children_frame, summarise, write_outputs

    if cfg is None:
        cfg = build_config(overrides)
    model = simulate(cfg)
    summary = summarise(model)
    weekly = model.weekly.frame(model.start_date, model.n_weeks)
    children = children_frame(model.children, model.geo.la_names)
    transitions = model.events.frame(model.geo.la_names, model.agency_names, model.start_date)
    files: dict[str, Path] = {}
    if write:
        out = Path(output_dir) if output_dir is not None else Path.cwd()
        files = write_outputs(out, summary, {"weekly": weekly, "children": children, "transitions": transitions})
    _release(model)
    return Results(cfg, summary, weekly, children, transitions, files, model if keep_model else None)


def simulate(cfg: CarePathwaysConfig, events=None, populations=None):
    """Build the model for a configuration (with its scenario's interventions) and run it to the end;
    ``events`` and ``populations`` as ``CarePathwaysModel`` takes them.

    The caller releases it with ``_release`` when done (Mesa 3.3's registry)."""
    from sim.model import CarePathwaysModel
    from sim.scenarios import interventions_for

    return CarePathwaysModel(cfg, interventions=interventions_for(cfg), events=events, populations=populations).run()


def _release(model) -> None:
    """Mesa 3.3 keeps every model alive in a class-level registry (fixed in 3.4.2): let it go."""
    import mesa

    ids = getattr(mesa.Agent, "_ids", None)
    if isinstance(ids, dict):
        ids.pop(model, None)


def metrics(seed: int = 1, **params: Any) -> dict[str, float]:
    """Run with keyword parameters (``population__scale=0.1`` sets ``population.scale``) and return the
    summary as a flat dict of numbers: the form EMA workbench and similar tools call."""
    overrides = [f"seed={seed}"] + [f"{k.replace('__', '.')}={v}" for k, v in params.items()]
    return run(build_config(overrides), write=False).metrics()
