"""The run config: typed dataclasses (``schema``) read from TOML plus ``key=value`` overrides (``toml``).

``load_config(path, overrides)`` gives a validated ``RunConfig``; ``describe_config()`` is the
``python -m league.run --help-config`` text.  ``league.config.toml`` is the generic part (dicts to
dataclasses, overrides, merging, writing TOML) and knows nothing about any component.
"""

from league.config.schema import (BackendConfig, GameConfig, LearnerConfig, LoggingConfig, PhaseConfig, RatingConfig,
                                  ReportConfig, RunConfig, describe_config, load_config)

__all__ = ["RunConfig", "GameConfig", "PhaseConfig", "LearnerConfig", "RatingConfig", "ReportConfig", "LoggingConfig",
           "BackendConfig", "load_config", "describe_config"]
