"""``python -m sim``: run the model from the command line (a Hydra app).

    python -m sim                                   # the baseline, England, 10 years
    python -m sim seed=3 population.scale=0.25 horizon.years=5 start_year=2019
    python -m sim -m seed=1,2,3                     # a Hydra multirun sweep

Bad input stops the run before anything is written, with one line naming the field, the value and
what is allowed.
"""

from __future__ import annotations

import sys

from sim.config import ConfigError

HYDRA_FLAGS_WITH_VALUE = {"--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd",
                          "--experimental-rerun", "--info", "-i"}


def _plain_overrides(argv: list[str]) -> list[str] | None:
    """The overrides of a single run (None for a sweep, which Hydra expands itself)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in HYDRA_FLAGS_WITH_VALUE:
            skip = True
            continue
        if arg.startswith("-"):
            if arg in ("-m", "--multirun"):
                return None
            continue
        if arg.split("=", 1)[0].lstrip("+~").startswith("hydra"):
            continue
        out.append(arg)
    return out


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _console_table(summary: dict, files: dict) -> str:
    r, c, s, p = summary["restriction"], summary["cost"], summary["stability"], summary["population"]
    rows = [
        ("DoL applications a year", f"{r['dol_applications_per_year']:,.0f}"),
        ("s25 secure applications a year", f"{r['secure_applications_per_year']:,.0f}"),
        ("Child-weeks deprived of liberty a year", f"{r['child_weeks_deprived_of_liberty']['total']:,.0f}"),
        ("Share of children in care ever deprived of liberty", f"{r['share_ever_deprived_of_liberty']:.1%}"),
        ("Cost a year (GBP)", f"{c['per_year_gbp']:,.0f}"),
        ("Cost per child-year in care (GBP)", f"{c['per_child_year_gbp']:,.0f}"),
        ("Moves per child-year in care", f"{s['moves_per_child_year']:.2f}"),
        ("Share with 3+ moves in a year", f"{s['share_with_3plus_moves_in_a_year']:.1%}"),
        ("Share placed out of area", f"{s['share_placed_out_of_area']:.1%}"),
        ("Harm incidents per child-year", f"{summary['safety']['harm_incidents_per_child_year']:.2f}"),
        ("Children in care (mean, England)", f"{p['children_in_care_mean']:,.0f}"),
    ]
    width = max(len(a) for a, _ in rows)
    run = summary["run"]
    lines = [f"care-pathways | scenario {run['scenario']} | seed {run['seed']} | from {run['start_date']} "
             f"for {run['years']:g} years | scale {run['population_scale']:g} (figures for England)"]
    lines += [f"  {a:<{width}}  {b:>16}" for a, b in rows]
    lines += ["Files:"] + [f"  {path}" for path in files.values()]
    return "\n".join(lines)


def main() -> None:
    from sim.api import CONFIG_DIR, build_config, run, to_config
    from sim.config import register_schema

    plain = _plain_overrides(sys.argv[1:])
    if plain is not None:
        # Check everything before Hydra creates a run directory, so bad input leaves nothing behind.
        try:
            build_config(plain)
        except ConfigError as exc:
            fail(str(exc))

    import hydra
    from hydra.core.hydra_config import HydraConfig

    register_schema()

    @hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
    def app(cfg) -> None:
        import logging

        logging.getLogger("MESA").setLevel(logging.WARNING)  # Mesa logs every step at INFO
        try:
            config = to_config(cfg)
        except ConfigError as exc:
            fail(str(exc))
        out = HydraConfig.get().runtime.output_dir
        results = run(config, output_dir=out, write=config.output.write_files)
        if config.output.console_table:
            print(_console_table(results.summary, results.files))

    app()


if __name__ == "__main__":
    main()
