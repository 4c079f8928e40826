"""``compare.posterior``: the comparison over draws from the calibration's posterior.

Seed k of every scenario runs with draw k, so a run is exactly the plain run with that draw's values as
overrides, and scenarios stay paired (a zero-strength scenario is still the baseline exactly). Bad input
(missing or empty file, a column that is not a parameter, a value that is not a number or out of range,
fewer draws than seeds) stops the comparison with one line naming compare.posterior.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from conftest import REPO, quick
from sim import ConfigError
from sim.compare import plan, run_comparison
from sim.outputs import flatten

SMALL = ["population.scale=0.05", "horizon.years=0.5"]
DRAWS = pd.DataFrame({"pathway.secure_threshold": [0.72, 0.86],
                      "orders.dol_propensity_by_year.2024": [0.3, 0.9]})


@pytest.fixture()
def draws_csv(tmp_path):
    path = tmp_path / "draws.csv"
    DRAWS.to_csv(path, index=False)
    return path


def test_seed_k_runs_with_draw_k(draws_csv):
    c = run_comparison(SMALL + ["scenario.early_help.strength=0"], ["early_help"], seeds=2, backend="serial",
                       posterior=str(draws_csv))
    assert c.plan.draws == {k: DRAWS.iloc[k - 1].to_dict() for k in (1, 2)}
    # Each baseline run is the plain run with its draw's values as overrides.
    for k in (1, 2):
        d = DRAWS.iloc[k - 1]
        plain = quick(SMALL + [f"seed={k}", f"pathway.secure_threshold={d['pathway.secure_threshold']}",
                               "++orders.dol_propensity_by_year={2024:%s}" % d["orders.dol_propensity_by_year.2024"]])
        got = c.runs.loc[("baseline", k)]
        expected = pd.Series(flatten(plain.summary), dtype=float)[got.index]
        pd.testing.assert_series_equal(got, expected, check_names=False)
    # The draws differ, so the runs do; the zero-strength scenario is still the baseline, seed by seed.
    assert not c.runs.loc[("baseline", 1)].equals(c.runs.loc[("baseline", 2)])
    pd.testing.assert_frame_equal(c.runs.xs("early_help", level="scenario"), c.runs.xs("baseline", level="scenario"),
                                  check_exact=True)
    assert "draw k" in c.markdown()


def test_posterior_from_the_config_section(draws_csv):
    p = plan(SMALL + [f"compare.posterior={draws_csv}", "compare.seeds=2"], ["baseline"])
    assert p.posterior == str(draws_csv) and sorted(p.draws) == [1, 2]
    assert plan(SMALL, ["baseline"], seeds=2).draws == {}


@pytest.mark.parametrize("content, seeds, first_seed, message", [
    (None, 2, 1, "not found"),
    ("", 2, 1, "compare.posterior must"),
    ("pathway.no_such_thing\n0.5\n0.6\n", 2, 1, "'pathway.no_such_thing' of"),
    ("pathway\n0.5\n0.6\n", 2, 1, "'pathway' of"),
    ("pathway.secure_threshold\n0.8\nhigh\n", 2, 1, "must hold numbers"),
    ("pathway.secure_threshold\n0.8\n1.5\n", 2, 1, "draw 2"),
    ("pathway.secure_threshold\n0.8\n0.7\n", 3, 1, "has 2 draws"),
    ("pathway.secure_threshold\n0.8\n0.7\n", 1, 0, "has 2 draws"),
])
def test_bad_posterior_is_one_line_naming_the_field(tmp_path, content, seeds, first_seed, message):
    path = tmp_path / "draws.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as err:
        plan(SMALL, ["baseline"], seeds=seeds, first_seed=first_seed, posterior=str(path))
    text = str(err.value)
    assert text.startswith("compare.posterior") and "\n" not in text and message in text, text


def test_cli_missing_posterior_is_one_line_and_writes_nothing(tmp_path):
    run_dir = tmp_path / "run"
    env = dict(os.environ)
    env.pop("HYDRA_FULL_ERROR", None)
    proc = subprocess.run([sys.executable, "-m", "sim.compare", "compare.posterior=no/such/draws.csv",
                           "compare.scenarios=[baseline]", "compare.seeds=2", *SMALL, f"hydra.run.dir={run_dir}"],
                          cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-800:]
    assert lines[0].startswith("error: compare.posterior must be a CSV") and "not found" in lines[0]
    assert not run_dir.exists()
