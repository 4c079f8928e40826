"""care-pathways: an agent-based model of children in complex situations moving through care in England."""

from sim.api import Results, build_config, metrics, run
from sim.config import CarePathwaysConfig, ConfigError

__version__ = "0.2.0"
__all__ = ["CarePathwaysConfig", "ConfigError", "Results", "build_config", "metrics", "run", "__version__"]
