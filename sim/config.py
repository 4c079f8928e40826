"""Configuration schema: the types and allowed ranges of every parameter.

The *values* live in YAML under ``scenarios/`` (with the published figure or the
assumption behind each one written beside it); this module only says what each
field is and what values it may take.  Hydra composes the YAML against these
dataclasses, so an unknown key or a wrong type is caught by Hydra itself, and
``validate`` checks ranges, giving a one-line :class:`ConfigError`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Dict, List, Optional

from omegaconf import MISSING

from sim.placements import PAYERS, PLACEMENT_TYPES

REGIONS = (
    "north_east",
    "north_west",
    "yorkshire_and_the_humber",
    "east_midlands",
    "west_midlands",
    "east_of_england",
    "london",
    "south_east",
    "south_west",
)

NEEDS = ("mental_health", "trauma", "autism_ld", "exploitation", "risk_to_others", "going_missing")


class ConfigError(ValueError):
    """A bad parameter value; the message is one line naming field, value and what is allowed."""


# --------------------------------------------------------------------------- schema
@dataclass
class Horizon:
    years: float = MISSING
    burn_in_years: int = 0


@dataclass
class Needs:
    """One number per need (a prevalence, a weight, ...)."""

    mental_health: float = MISSING
    trauma: float = MISSING
    autism_ld: float = MISSING
    exploitation: float = MISSING
    risk_to_others: float = MISSING
    going_missing: float = MISSING


@dataclass
class PerPlacement:
    """One number per placement type."""

    family: float = MISSING
    foster_inhouse: float = MISSING
    foster_agency: float = MISSING
    residential: float = MISSING
    therapeutic_residential: float = MISSING
    supported_accommodation: float = MISSING
    tier4: float = MISSING
    secure_home: float = MISSING
    unregistered: float = MISSING
    youth_custody: float = MISSING


@dataclass
class Population:
    scale: float = MISSING
    children_looked_after_by_year: Dict[int, float] = MISSING
    share_aged_10_to_15: float = MISSING
    share_aged_16_17: float = MISSING
    share_aged_5_to_9: float = MISSING
    starts_by_year: Dict[int, float] = MISSING
    start_share_10_to_15: float = MISSING
    start_share_16_17: float = MISSING
    edge_of_care_pool: float = MISSING
    edge_share_of_entries: float = MISSING
    edge_entry_distress_slope: float = MISSING
    edge_pool_leave_per_year: float = MISSING
    return_home_per_year: float = MISSING
    return_home_max_distress: float = MISSING
    s20_share: float = MISSING
    initial_placement_mix: PerPlacement = field(default_factory=PerPlacement)
    region_share_of_children: Dict[str, float] = MISSING
    local_authorities_per_region: Dict[str, int] = MISSING


@dataclass
class NeedsProfile:
    prevalence_in_care: Needs = field(default_factory=Needs)
    prevalence_edge_of_care: Needs = field(default_factory=Needs)
    complexity_loading: float = MISSING
    weight: Needs = field(default_factory=Needs)


@dataclass
class Distress:
    baseline: float = MISSING
    reversion_per_week: float = MISSING
    noise_sd: float = MISSING
    crisis_threshold: float = MISSING
    crisis_response_penalty: float = MISSING
    placement_fit: PerPlacement = field(default_factory=PerPlacement)
    support_effect: float = MISSING
    support_weeks: int = MISSING
    move_shock: float = MISSING
    out_of_area_shock: float = MISSING
    scar_per_move: float = MISSING
    scar_per_week_deprived: float = MISSING
    scar_decay_per_week: float = MISSING


@dataclass
class Safety:
    harm_base_per_week: float = MISSING
    harm_distress_slope: float = MISSING
    containment: PerPlacement = field(default_factory=PerPlacement)
    dol_containment: float = MISSING


@dataclass
class Breakdown:
    base_per_week: PerPlacement = field(default_factory=PerPlacement)
    distress_slope: float = MISSING
    tolerance: PerPlacement = field(default_factory=PerPlacement)


@dataclass
class Pathway:
    """Distress levels at which agencies escalate, shifted by their risk tolerance."""

    residential_threshold: float = MISSING
    tier4_threshold: float = MISSING
    secure_threshold: float = MISSING
    risk_tolerance_shift: float = MISSING
    step_down_margin: float = MISSING
    step_down_weeks: int = MISSING
    therapeutic_preference: float = MISSING
    supported_accommodation_share: float = MISSING


@dataclass
class PlacementType:
    rank: int = MISSING
    weekly_cost_gbp: float = MISSING
    payer: str = MISSING
    places_by_year: Dict[int, float] = field(default_factory=dict)
    unlimited: bool = False
    in_house_share: float = 0.0
    external_occupancy_by_year: Dict[int, float] = field(default_factory=dict)
    min_age: int = 10


@dataclass
class Placements:
    market_location_spread: float = MISSING
    market_refusal: float = MISSING
    family: PlacementType = field(default_factory=PlacementType)
    foster_inhouse: PlacementType = field(default_factory=PlacementType)
    foster_agency: PlacementType = field(default_factory=PlacementType)
    residential: PlacementType = field(default_factory=PlacementType)
    therapeutic_residential: PlacementType = field(default_factory=PlacementType)
    supported_accommodation: PlacementType = field(default_factory=PlacementType)
    tier4: PlacementType = field(default_factory=PlacementType)
    secure_home: PlacementType = field(default_factory=PlacementType)
    unregistered: PlacementType = field(default_factory=PlacementType)
    youth_custody: PlacementType = field(default_factory=PlacementType)


@dataclass
class SecureWelfare:
    available_share: float = MISSING
    youth_justice_places_by_year: Dict[int, float] = MISSING
    acceptance_base: float = MISSING
    acceptance_risk_to_others_penalty: float = MISSING
    weeks_before_dol_application: int = MISSING


@dataclass
class Orders:
    s25_grant_probability: float = MISSING
    s25_initial_weeks: int = MISSING
    s25_renewal_weeks: int = MISSING
    dol_grant_probability: float = MISSING
    dol_review_weeks: int = MISSING
    dol_threshold: float = MISSING
    dol_discharge_margin: float = MISSING
    dol_propensity_by_year: Dict[int, float] = MISSING
    dol_in_registered_home_weekly_cost_gbp: float = MISSING
    mha_detention_share: float = MISSING
    tier4_min_weeks: int = MISSING
    initial_dol_children: float = MISSING


@dataclass
class YouthJustice:
    arrest_per_week_at_crisis: float = MISSING
    remand_probability: float = MISSING
    remand_weeks_mean: float = MISSING
    sentence_probability: float = MISSING
    sentence_weeks_mean: float = MISSING


@dataclass
class AgencyType:
    flexibility: float = MISSING
    risk_tolerance: float = MISSING
    spread: float = MISSING
    weekly_capacity_per_1000_children: float = MISSING
    annual_budget_gbp_per_child: float = MISSING
    notice_probability: float = MISSING


@dataclass
class Agencies:
    childrens_social_care: AgencyType = field(default_factory=AgencyType)
    camhs: AgencyType = field(default_factory=AgencyType)
    education: AgencyType = field(default_factory=AgencyType)
    police: AgencyType = field(default_factory=AgencyType)
    youth_justice: AgencyType = field(default_factory=AgencyType)
    family_court: AgencyType = field(default_factory=AgencyType)
    high_court: AgencyType = field(default_factory=AgencyType)
    budget_pressure_flexibility_loss: float = MISSING


@dataclass
class Funding:
    cost_index_by_year: Dict[int, float] = MISSING
    therapeutic_nhs_share: float = MISSING
    education_share_autism_ld_residential: float = MISSING
    funding_agreement_weeks: int = MISSING
    community_support_weekly_cost_gbp: float = MISSING
    camhs_support_weekly_cost_gbp: float = MISSING


@dataclass
class SystemIntegratorsParams:
    strength: float = MISSING
    workers: float = MISSING
    caseload: int = MISSING
    min_distress: float = MISSING
    annual_cost_per_worker_gbp: float = MISSING
    payer: str = MISSING
    flexibility_boost: float = MISSING
    crisis_penalty_reduction: float = MISSING
    funding_delay_reduction: float = MISSING


@dataclass
class EarlyHelpParams:
    strength: float = MISSING
    workers: float = MISSING
    caseload: int = MISSING
    min_distress: float = MISSING
    support_packages: float = MISSING
    weekly_cost_per_child_gbp: float = MISSING
    payer: str = MISSING


@dataclass
class PooledFundingParams:
    strength: float = MISSING
    joint_package_boost: float = MISSING
    annual_cost_per_la_gbp: float = MISSING
    payer: str = MISSING


@dataclass
class RegionalCareCooperativeParams:
    strength: float = MISSING
    refusal_reduction: float = MISSING
    added_residential_places: float = MISSING
    annual_cost_per_region_gbp: float = MISSING
    payer: str = MISSING


@dataclass
class CommunityTherapeuticProvisionParams:
    strength: float = MISSING
    places: float = MISSING
    tier4_redirect_share: float = MISSING
    annual_setup_cost_per_place_gbp: float = MISSING
    payer: str = MISSING


@dataclass
class RiskToleranceShiftParams:
    strength: float = MISSING
    shift: float = MISSING
    annual_cost_gbp: float = MISSING
    payer: str = MISSING


@dataclass
class SecureBedsExpansionParams:
    strength: float = MISSING
    added_places_by_year: Dict[int, float] = MISSING
    capital_cost_per_place_gbp: float = MISSING
    payer: str = MISSING


@dataclass
class RegisteredDolHomesParams:
    strength: float = MISSING
    places_by_year: Dict[int, float] = MISSING
    capital_gbp: float = MISSING
    payer: str = MISSING


@dataclass
class Scenario:
    """The scenario group: each intervention is present (and so switched on) only when selected."""

    system_integrators: Optional[SystemIntegratorsParams] = None
    pooled_funding: Optional[PooledFundingParams] = None
    regional_care_cooperative: Optional[RegionalCareCooperativeParams] = None
    community_therapeutic_provision: Optional[CommunityTherapeuticProvisionParams] = None
    risk_tolerance_shift: Optional[RiskToleranceShiftParams] = None
    secure_beds_expansion: Optional[SecureBedsExpansionParams] = None
    registered_dol_homes: Optional[RegisteredDolHomesParams] = None
    early_help: Optional[EarlyHelpParams] = None


@dataclass
class Compare:
    """Settings of ``python -m sim.compare`` (ignored by a single run)."""

    scenarios: List[str] = field(default_factory=list)  # empty: the whole library
    seeds: int = 20
    first_seed: int = 1
    backend: str = "local"  # local (all cores) | serial | ray
    workers: int = 0  # 0: all local cores
    ray_address: str = ""  # empty: start or join a local Ray instance
    progress: bool = True
    posterior: str = ""  # empty: the configuration as it is; else a CSV of posterior draws, seed k uses draw k


@dataclass
class Output:
    write_files: bool = True
    console_table: bool = True


@dataclass
class CarePathwaysConfig:
    seed: int = MISSING
    start_year: int = MISSING
    horizon: Horizon = field(default_factory=Horizon)
    population: Population = field(default_factory=Population)
    needs: NeedsProfile = field(default_factory=NeedsProfile)
    distress: Distress = field(default_factory=Distress)
    safety: Safety = field(default_factory=Safety)
    breakdown: Breakdown = field(default_factory=Breakdown)
    pathway: Pathway = field(default_factory=Pathway)
    placements: Placements = field(default_factory=Placements)
    secure_welfare: SecureWelfare = field(default_factory=SecureWelfare)
    orders: Orders = field(default_factory=Orders)
    youth_justice: YouthJustice = field(default_factory=YouthJustice)
    agencies: Agencies = field(default_factory=Agencies)
    funding: Funding = field(default_factory=Funding)
    scenario: Scenario = field(default_factory=Scenario)
    output: Output = field(default_factory=Output)
    compare: Compare = field(default_factory=Compare)
    data_file: str = MISSING
    citations: Dict[str, str] = field(default_factory=dict)


def register_schema() -> None:
    """Register the schema with Hydra's ConfigStore under the name ``schema``."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="schema", node=CarePathwaysConfig)


# --------------------------------------------------------------------------- validation
# Fields whose values are probabilities or shares (0..1), by dotted-name suffix.
_UNIT_INTERVAL = {
    "share_aged_10_to_15", "share_aged_16_17", "share_aged_5_to_9", "start_share_10_to_15",
    "start_share_16_17", "edge_share_of_entries", "complexity_loading", "crisis_threshold",
    "crisis_response_penalty", "residential_threshold", "tier4_threshold", "secure_threshold", "dol_threshold",
    "therapeutic_preference", "supported_accommodation_share", "in_house_share", "market_refusal", "available_share", "acceptance_base",
    "acceptance_risk_to_others_penalty", "s25_grant_probability", "dol_grant_probability",
    "mha_detention_share", "strength", "refusal_reduction", "crisis_penalty_reduction",
    "funding_delay_reduction", "tier4_redirect_share", "joint_package_boost", "shift", "arrest_per_week_at_crisis",
    "remand_probability", "sentence_probability", "s20_share", "flexibility", "risk_tolerance",
    "notice_probability", "budget_pressure_flexibility_loss", "therapeutic_nhs_share",
    "education_share_autism_ld_residential", "dol_containment", "harm_base_per_week",
    "reversion_per_week", "baseline", "return_home_max_distress",
}
_UNIT_GROUPS = {"prevalence_in_care", "prevalence_edge_of_care", "placement_fit", "containment",
                "base_per_week", "initial_placement_mix"}


def _fail(name: str, value: Any, allowed: str) -> None:
    raise ConfigError(f"{name} must be {allowed}, got {value!r}")


def _check_finite(name: str, value: float) -> None:
    if not math.isfinite(float(value)):
        _fail(name, value, "a finite number")


def _check_unit(name: str, value: float) -> None:
    _check_finite(name, value)
    if not (0.0 <= float(value) <= 1.0):
        _fail(name, value, "in [0, 1]")


def _check_nonneg(name: str, value: float) -> None:
    _check_finite(name, value)
    if float(value) < 0:
        _fail(name, value, ">= 0")


def _walk(obj: Any, prefix: str, parent: str = "") -> None:
    """Check ranges everywhere: shares in [0, 1], every number >= 0."""
    for f in fields(obj):
        value = getattr(obj, f.name)
        name = f"{prefix}{f.name}"
        if is_dataclass(value):
            _walk(value, name + ".", f.name)
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, (int, float)):
                    _check_nonneg(f"{name}.{k}", v)
        elif value is None or isinstance(value, bool):
            continue
        elif isinstance(value, str):
            if f.name == "payer" and value not in PAYERS:
                _fail(name, value, f"one of {list(PAYERS)}")
            continue
        elif isinstance(value, (int, float)):
            if f.name in _UNIT_INTERVAL or parent in _UNIT_GROUPS:
                _check_unit(name, value)
            elif f.name not in ("seed", "start_year", "rank"):
                _check_nonneg(name, value)


def _check_year_schedule(name: str, schedule: Dict[int, float]) -> None:
    for year in schedule:
        if not 1990 <= int(year) <= 2100:
            _fail(f"{name} key", year, "a calendar year between 1990 and 2100")


def validate(cfg: CarePathwaysConfig) -> CarePathwaysConfig:
    """Check every range; raise ConfigError with one line naming field, value and what is allowed."""
    for name, value in (("population.scale", cfg.population.scale), ("horizon.years", cfg.horizon.years)):
        _check_finite(name, value)
    if cfg.compare.backend not in ("local", "serial", "ray"):
        _fail("compare.backend", cfg.compare.backend, "one of ['local', 'serial', 'ray']")
    if cfg.compare.seeds < 1:
        _fail("compare.seeds", cfg.compare.seeds, ">= 1")
    if cfg.population.scale <= 0 or cfg.population.scale > 10:
        _fail("population.scale", cfg.population.scale, "> 0 and <= 10 (1.0 is England)")
    if cfg.horizon.years <= 0 or cfg.horizon.years > 50:
        _fail("horizon.years", cfg.horizon.years, "> 0 and <= 50")
    if not 0 <= cfg.horizon.burn_in_years <= 20:
        _fail("horizon.burn_in_years", cfg.horizon.burn_in_years, "a whole number of years from 0 to 20")
    if not isinstance(cfg.seed, int) or cfg.seed < 0:
        _fail("seed", cfg.seed, "a non-negative integer")
    _walk(cfg, "")
    pop = cfg.population
    if set(pop.region_share_of_children) != set(REGIONS):
        _fail("population.region_share_of_children keys", sorted(pop.region_share_of_children),
              f"exactly {list(REGIONS)}")
    if set(pop.local_authorities_per_region) != set(REGIONS):
        _fail("population.local_authorities_per_region keys", sorted(pop.local_authorities_per_region),
              f"exactly {list(REGIONS)}")
    for region, n in pop.local_authorities_per_region.items():
        if n < 1:
            _fail(f"population.local_authorities_per_region.{region}", n, ">= 1")
    mix = sum(getattr(pop.initial_placement_mix, t) for t in PLACEMENT_TYPES)
    if abs(mix - 1.0) > 1e-6:
        _fail("population.initial_placement_mix", round(mix, 6), "shares summing to 1")
    if pop.share_aged_10_to_15 + pop.share_aged_16_17 > 1:
        _fail("population.share_aged_16_17", pop.share_aged_16_17, "<= 1 - share_aged_10_to_15")
    for t in PLACEMENT_TYPES:
        p: PlacementType = getattr(cfg.placements, t)
        if p.payer not in PAYERS:
            _fail(f"placements.{t}.payer", p.payer, f"one of {list(PAYERS)}")
        if not p.unlimited and not p.places_by_year:
            _fail(f"placements.{t}.places_by_year", dict(p.places_by_year),
                  "a non-empty {year: places} schedule (or unlimited: true)")
        _check_year_schedule(f"placements.{t}.places_by_year", p.places_by_year)
        _check_year_schedule(f"placements.{t}.external_occupancy_by_year", p.external_occupancy_by_year)
        if p.min_age not in range(10, 18):
            _fail(f"placements.{t}.min_age", p.min_age, "an age from 10 to 17")
    for name, schedule in (("population.children_looked_after_by_year", pop.children_looked_after_by_year),
                           ("population.starts_by_year", pop.starts_by_year),
                           ("orders.dol_propensity_by_year", cfg.orders.dol_propensity_by_year),
                           ("secure_welfare.youth_justice_places_by_year",
                            cfg.secure_welfare.youth_justice_places_by_year),
                           ("funding.cost_index_by_year", cfg.funding.cost_index_by_year)):
        if not schedule:
            _fail(name, dict(schedule), "a non-empty {year: value} schedule")
        _check_year_schedule(name, schedule)
    for year, value in cfg.orders.dol_propensity_by_year.items():
        _check_unit(f"orders.dol_propensity_by_year.{year}", value)
    if cfg.orders.s25_initial_weeks < 1 or cfg.orders.dol_review_weeks < 1:
        _fail("orders.s25_initial_weeks / dol_review_weeks",
              (cfg.orders.s25_initial_weeks, cfg.orders.dol_review_weeks), ">= 1 week")
    if not cfg.pathway.residential_threshold <= cfg.pathway.tier4_threshold <= 1:
        _fail("pathway.tier4_threshold", cfg.pathway.tier4_threshold, ">= pathway.residential_threshold")
    return cfg


def schedule_value(schedule: Dict[int, float], year: int) -> float:
    """Value of a {year: value} schedule in ``year``: the latest entry at or before it (else the first)."""
    years = sorted(int(y) for y in schedule)
    chosen = years[0]
    for y in years:
        if y <= year:
            chosen = y
    return float(schedule[chosen])


def to_object(cfg: Any) -> CarePathwaysConfig:
    """Turn a composed DictConfig into the validated dataclass tree."""
    from omegaconf import OmegaConf

    obj = OmegaConf.to_object(cfg) if not isinstance(cfg, CarePathwaysConfig) else cfg
    return validate(obj)


__all__ = [
    "CarePathwaysConfig", "ConfigError", "NEEDS", "REGIONS", "register_schema", "schedule_value",
    "to_object", "validate",
]


# ============================================================================ parameters by dotted path
# Calibration, sensitivity and compare.posterior set a few parameters on a composed config many times:
# composing with Hydra each time costs about a second, so they set them on a validated deep copy instead.
def _int_key(node: Mapping, part: str) -> Any:
    if part.isdigit() and (int(part) in node or not any(isinstance(k, str) for k in node)):
        return int(part)
    return part


def get_param(cfg: Any, path: str) -> Any:
    node = cfg
    for part in path.split("."):
        node = node[_int_key(node, part)] if isinstance(node, Mapping) else getattr(node, part)
    return node


def set_param(cfg: Any, path: str, value: Any) -> None:
    """Set a dotted parameter in place: a field, a whole dict (schedule), or one year of a schedule."""
    parts = path.split(".")
    node = cfg
    for part in parts[:-1]:
        node = node[_int_key(node, part)] if isinstance(node, Mapping) else getattr(node, part)
    last = parts[-1]
    if isinstance(node, dict):
        node[_int_key(node, last)] = float(value)
        return
    old = getattr(node, last)
    if isinstance(old, dict) and isinstance(value, Mapping):
        value = {int(k): float(v) for k, v in value.items()}
    elif isinstance(old, bool):
        value = bool(value)
    elif isinstance(old, int) and not isinstance(value, Mapping):
        value = int(round(float(value)))
    elif isinstance(old, float):
        value = float(value)
    setattr(node, last, value)


def with_params(base: Any, params: Mapping[str, Any], seed: int | None = None) -> Any:
    """A validated copy of a config with parameters set (dotted paths; "a.b_by_year.2019" sets one year)."""
    cfg = copy.deepcopy(base)
    for path, value in params.items():
        set_param(cfg, path, value)
    if seed is not None:
        cfg.seed = int(seed)
    validate(cfg)
    return cfg
