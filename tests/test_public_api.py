"""``__all__`` of each package names exactly what it exports, and every name resolves."""

import importlib
import subprocess
import sys

import pytest


@pytest.mark.parametrize("package", ["league", "ratings", "envs"])
def test_every_name_in_all_resolves(package):
    mod = importlib.import_module(package)
    assert len(mod.__all__) == len(set(mod.__all__)), "duplicates in __all__"
    for name in mod.__all__:
        assert getattr(mod, name) is not None, name


@pytest.mark.parametrize("package", ["league", "ratings", "envs"])
def test_public_classes_and_functions_are_listed(package):
    mod = importlib.import_module(package)
    for name in mod.__all__:
        obj = getattr(mod, name)
        if hasattr(obj, "__module__") and isinstance(obj, type):
            assert obj.__module__.split(".")[0] == package or name.endswith("Error"), name


def test_unknown_attribute_is_an_attribute_error():
    import league

    with pytest.raises(AttributeError, match="no attribute 'Poool'"):
        league.Poool


def test_importing_league_does_not_load_torch():
    code = "import sys, league; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_layering_rule_holds():
    # ratings/ and envs/ import nothing from league/ (docs/design.md, "Data flow").
    code = ("import sys, ratings, envs; "
            "print(sorted(m for m in sys.modules if m == 'league' or m.startswith('league.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_py_typed_markers_ship():
    import pathlib

    for package in ("league", "ratings", "envs"):
        path = pathlib.Path(importlib.import_module(package).__file__).parent / "py.typed"
        assert path.exists(), package
