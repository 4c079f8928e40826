"""Bad input stops a run before anything is written, with one line naming the field.

Each case is checked through the command line (a subprocess, as a user would run it) and through the
Python API (``build_config`` raises ``ConfigError``).  Cited parameters must agree with their source.
"""

from __future__ import annotations

import pytest

from conftest import cli
from sim import ConfigError, build_config

# (override, field the message must name, text from the value the message must quote)
BAD_INPUT = [
    pytest.param("bta=1", "bta", None, id="unknown-key"),
    pytest.param("scenario=foo", "scenario", "foo", id="unknown-scenario"),
    pytest.param("orders.dol_grant_probability=1.5", "orders.dol_grant_probability", "1.5",
                 id="probability-above-1"),
    # An uncited probability, so only the range check (not the citation check) can catch it.
    pytest.param("orders.s25_grant_probability=1.5", "orders.s25_grant_probability", "1.5",
                 id="uncited-probability-above-1"),
    pytest.param("placements.secure_home.places_by_year={2017:-5,2019:237,2020:230,2023:204}",
                 "placements.secure_home.places_by_year", "-5", id="negative-capacity"),
    pytest.param("placements.foster_agency.weekly_cost_gbp=-100", "placements.foster_agency.weekly_cost_gbp",
                 "-100", id="negative-cost"),
    pytest.param("population.scale=0", "population.scale", "0", id="zero-scale"),
    pytest.param("data_file=/nonexistent.csv", "data_file", "/nonexistent.csv", id="missing-data-file"),
    pytest.param("population.scale=abc", "population.scale", "abc", id="non-number"),
    # "nan" parses as a float but is not a number: it must not slip past the range checks.
    pytest.param("population.scale=nan", "population.scale", "nan", id="nan-scale"),
    pytest.param("placements.foster_agency.weekly_cost_gbp=nan", "placements.foster_agency.weekly_cost_gbp",
                 "nan", id="nan-cost"),
]


@pytest.mark.parametrize("override, field, value", BAD_INPUT)
def test_cli_rejects_bad_input_with_one_line_and_writes_nothing(override, field, value, tmp_path):
    """Exit code 2, exactly one non-empty line on stderr naming the field (and the bad value), no
    traceback, and Hydra's run directory never created."""
    run_dir = tmp_path / "run"
    proc = cli(["population.scale=0.02", "horizon.years=0.1", override, f"hydra.run.dir={run_dir}"], timeout=120)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, f"exit code {proc.returncode}; stderr tail: {proc.stderr[-800:]!r}"
    assert len(lines) == 1 and lines[0].strip(), f"stderr is not one line: {proc.stderr[-800:]!r}"
    line = lines[0]
    assert line.startswith("error: ")
    assert field in line, line
    if value is not None:
        assert value.lower() in line.lower(), line
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert not run_dir.exists(), f"run directory created: {sorted(p.name for p in run_dir.rglob('*'))}"


@pytest.mark.parametrize("override, field, value", BAD_INPUT)
def test_api_raises_config_error_for_bad_input(override, field, value):
    """``build_config`` raises ``ConfigError`` with a one-line message naming the field."""
    with pytest.raises(ConfigError) as info:
        build_config(["population.scale=0.02", "horizon.years=0.1", override])
    message = str(info.value)
    assert message and "\n" not in message.strip(), message
    assert field in message, message


def test_unknown_scenario_message_lists_known_scenarios():
    """The message for an unknown scenario lists the scenarios that exist."""
    from sim.api import CONFIG_DIR

    known = sorted(p.stem for p in (CONFIG_DIR / "scenario").glob("*.yaml"))
    assert "baseline" in known
    with pytest.raises(ConfigError) as info:
        build_config(["scenario=foo"])
    for name in known:
        assert name in str(info.value)


def test_good_input_is_accepted():
    """The checks are not over-broad: the baseline and in-range values (including 0 and 1 for
    probabilities, and a whole schedule override) are accepted."""
    cfg = build_config(["orders.s25_grant_probability=1.0", "youth_justice.remand_probability=0",
                        "placements.foster_agency.weekly_cost_gbp=0",
                        "placements.secure_home.places_by_year={2017:233,2019:237,2020:100,2023:204}",
                        "population.scale=0.05"])
    assert cfg.placements.secure_home.places_by_year[2020] == 100
    assert cfg.population.scale == 0.05


# ============================================================================ 11. citations
@pytest.mark.parametrize("override, field, ident", [
    ("orders.dol_grant_probability=0.5", "orders.dol_grant_probability", "T1-035"),
    ("placements.unregistered.weekly_cost_gbp=20000", "placements.unregistered.weekly_cost_gbp", "T5-021"),
    ("population.share_aged_10_to_15=0.5", "population.share_aged_10_to_15", "T2-012"),
])
def test_changing_a_cited_parameter_names_its_source(override, field, ident):
    """A cited parameter that no longer matches its published figure is refused, naming the source id."""
    with pytest.raises(ConfigError) as info:
        build_config([override])
    assert ident in str(info.value) and field in str(info.value), str(info.value)


def test_changing_a_cited_parameter_is_refused_by_the_cli(tmp_path):
    """The same through the command line: exit 2, one line naming the source id, nothing written."""
    run_dir = tmp_path / "run"
    proc = cli(["orders.dol_grant_probability=0.5", f"hydra.run.dir={run_dir}"], timeout=120)
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1 and "T1-035" in proc.stderr
    assert not run_dir.exists()


def test_uncited_parameters_change_freely():
    """Parameters without a citation are not checked against the data file."""
    cfg = build_config(["orders.s25_grant_probability=0.5"])
    assert cfg.orders.s25_grant_probability == 0.5
