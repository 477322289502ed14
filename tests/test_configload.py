import dataclasses
import tomllib

import pytest

from league.config.toml import dump_toml, field_docs, from_dict, merge, parse_overrides, to_dict
from league.errors import ConfigError


@dataclasses.dataclass
class Inner:
    lr: float = 3e-4
    """learning rate"""
    hidden: tuple[int, ...] = (64, 64)
    """hidden layer sizes"""


@dataclasses.dataclass
class Outer:
    seed: int = 0
    """run seed"""
    name: str = "tictactoe"
    """game name"""
    budget: float | None = None
    """optional budget"""
    kwargs: dict = dataclasses.field(default_factory=dict)
    """free-form"""
    inner: Inner = dataclasses.field(default_factory=Inner)
    """nested table"""

    def __post_init__(self):
        if self.seed < 0:
            raise ConfigError(f"config key 'seed' = {self.seed}: must be >= 0")


def test_nested_round_trip_through_toml_text():
    cfg = from_dict(Outer, {"seed": 3, "kwargs": {"num_players": 4}, "inner": {"hidden": [8, 8, 8]}})
    assert cfg.inner.hidden == (8, 8, 8) and cfg.kwargs == {"num_players": 4}
    again = from_dict(Outer, tomllib.loads(dump_toml(to_dict(cfg))))
    assert again == cfg


def test_overrides_parse_toml_literals_and_bare_strings():
    got = parse_overrides(["inner.lr=1e-3", "name=connect_four", "inner.hidden=[32]", "budget=5"])
    cfg = from_dict(Outer, merge({"inner": {"lr": 0.1}}, got))
    assert cfg.inner.lr == 1e-3 and cfg.name == "connect_four" and cfg.inner.hidden == (32,)
    assert cfg.budget == 5.0


@pytest.mark.parametrize("data,needle", [
    ({"sede": 1}, "unknown config key 'sede'; valid keys in the top level: budget, inner, kwargs, name, seed"),
    ({"inner": {"lrr": 1}}, "unknown config key 'inner.lrr'"),
    ({"seed": "x"}, "config key 'seed' = 'x': expected an integer"),
    ({"inner": {"lr": True}}, "config key 'inner.lr' = True: expected a number"),
    ({"inner": 3}, "config key 'inner' must be a table"),
    ({"seed": -1}, "must be >= 0"),
])
def test_bad_keys_and_values_are_named(data, needle):
    with pytest.raises(ConfigError) as exc:
        from_dict(Outer, data)
    assert needle in str(exc.value)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("item", ["noequals", "=3", "a..b=1"])
def test_malformed_overrides(item):
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides([item])


def test_field_docs_are_read_from_the_source():
    assert field_docs(Inner) == {"lr": "learning rate", "hidden": "hidden layer sizes"}


def test_none_survives_a_round_trip_as_the_string_none():
    cfg = from_dict(Outer, {"budget": "none"})
    assert cfg.budget is None
    cfg = from_dict(Outer, {"budget": 3.0})
    text = dump_toml(to_dict(dataclasses.replace(cfg, budget=None)))
    assert 'budget = "none"' in text
    assert from_dict(Outer, tomllib.loads(text)).budget is None


def test_fixed_length_tuples_are_coerced_item_by_item():
    @dataclasses.dataclass
    class Ranges:
        lr: tuple[float, float] = (1e-4, 1e-3)
        """range"""

    assert from_dict(Ranges, {"lr": [1, 2e-3]}).lr == (1.0, 2e-3)
    with pytest.raises(ConfigError, match="expected 2 items"):
        from_dict(Ranges, {"lr": [1.0]})


def test_overriding_one_key_keeps_the_sections_run_defaults(tmp_path):
    # Regression (issue 11, cause 6): `hparams.lr=...` used to reset the other hparams keys (and
    # `ppo.lr=...` the other ppo keys) to the section class's library defaults.
    from league.config import RunConfig, load_config
    from league.training.hparams import HParamRanges
    from league.training.ppo import PPOConfig

    run = RunConfig()
    assert run.hparams.width != HParamRanges().width and run.ppo.n_steps != PPOConfig().n_steps
    config = load_config(overrides=["hparams.lr=[1e-3, 2e-3]", "ppo.ent_coef=0.02", "bootstrap.patience=2"])
    assert config.hparams.lr == (1e-3, 2e-3)
    assert config.hparams.width == run.hparams.width and config.hparams.epochs == run.hparams.epochs
    assert config.ppo.ent_coef == 0.02 and config.ppo.n_steps == run.ppo.n_steps
    assert config.bootstrap.patience == 2 and config.bootstrap.max_steps == run.bootstrap.max_steps
    path = tmp_path / "c.toml"
    path.write_text("[hparams]\ndepth = [2, 2]\n")
    from_file = load_config(path, ["hparams.lr=[1e-3, 2e-3]"])
    assert from_file.hparams.depth == (2, 2) and from_file.hparams.width == run.hparams.width
