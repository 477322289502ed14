"""Tests for leaderboard rendering (``ratings.export``) and its CLI (``league.leaderboard``)."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ratings.export import (BASE_COLUMNS, FORMATS, LeaderboardRow, leaderboard_rows, render, to_csv,
                                 to_html, to_json, to_markdown)

REPO = Path(__file__).resolve().parents[1]


def row(role, version, id, mu, sigma, games=0, active=True, anchor=False, **extra):
    return {"role": role, "version": version, "id": id, "mu": mu, "sigma": sigma, "games": games,
            "active": active, "anchor": anchor, **({"extra": extra} if extra else {})}


# Interleaved ids, as a pool that trains roles in turn produces them.
ROWS = [
    row("blue", 0, 0, 25.0, 8.0, anchor=True),     # cons  1.0
    row("red", 0, 1, 25.0, 1.0, games=40),          # cons 22.0
    row("blue", 1, 2, 30.0, 2.0, games=12),         # cons 24.0
    row("red", 1, 3, 28.0, 3.0, games=9, active=False),  # cons 19.0
    row("blue", 2, 4, 35.0, 5.0, games=3),          # cons 20.0
]


# --- pure rendering ------------------------------------------------------------------------------

def test_rows_are_grouped_by_role_and_sorted_by_conservative_rating():
    rows = leaderboard_rows(ROWS)
    assert [(r.role, r.id) for r in rows] == [("blue", 2), ("blue", 4), ("blue", 0), ("red", 1), ("red", 3)]
    assert [r.conservative for r in rows] == [24.0, 20.0, 1.0, 22.0, 19.0]
    # An explicit role order wins over order of appearance.
    assert [r.role for r in leaderboard_rows(ROWS, roles=["red", "blue"])][:2] == ["red", "red"]


def test_age_counts_newer_versions_of_the_same_role():
    ages = {r.id: r.age for r in leaderboard_rows(ROWS)}
    assert ages == {0: 2, 2: 1, 4: 0, 1: 1, 3: 0}


def test_objects_with_attributes_are_accepted():
    @dataclass(frozen=True)
    class FakeMember:  # the shape of league.pool.Member, extra fields ignored
        id: int; role: str; version: int; mu: float; sigma: float; games: int
        active: bool; anchor: bool; step: int = 0

    rows = leaderboard_rows([FakeMember(7, "x", 0, 20.0, 2.0, 5, True, False)])
    assert rows == [LeaderboardRow("x", 0, 7, 20.0, 2.0, 5, True, False, age=0)]


def test_missing_or_bad_fields_raise_value_error_naming_them():
    bad = dict(ROWS[0])
    del bad["sigma"]
    with pytest.raises(ValueError, match=r"row 1 has no 'sigma'"):
        leaderboard_rows([ROWS[0], bad])
    with pytest.raises(ValueError, match="clashes"):
        leaderboard_rows([row("a", 0, 0, 1.0, 1.0, mu_extra=1.0)], extra={0: {"mu": 2.0}})
    with pytest.raises(ValueError, match="must be a number"):
        leaderboard_rows([row("a", 0, 0, 1.0, 1.0, note="hi")])
    with pytest.raises(ValueError, match="unknown leaderboard format 'pdf'; valid: md, csv, json, html"):
        render(ROWS, "pdf")


def test_markdown_has_one_table_per_role_in_order():
    text = to_markdown(ROWS, title="T")
    assert text.startswith("# T\n")
    assert text.index("## blue") < text.index("## red")
    blue = text[text.index("## blue"):text.index("## red")]
    header = "| " + " | ".join(BASE_COLUMNS) + " |"
    assert header in blue
    body = [line for line in blue.splitlines() if line.startswith("| blue")]
    assert body == ["| blue | 1 | 2 | 30.00 | 2.00 | 24.00 | 12 | yes | no | 1 |",
                    "| blue | 2 | 4 | 35.00 | 5.00 | 20.00 | 3 | yes | no | 0 |",
                    "| blue | 0 | 0 | 25.00 | 8.00 | 1.00 | 0 | yes | yes | 2 |"]
    assert "| red | 1 | 3 | 28.00 | 3.00 | 19.00 | 9 | no | no | 0 |" in text


def test_markdown_escapes_pipes_in_role_names():
    text = to_markdown([row("a|b", 0, 0, 25.0, 1.0)])
    assert "## a\\|b" in text and "| a\\|b | 0 |" in text


def test_csv_parses_back_exactly():
    rows = leaderboard_rows(ROWS)
    parsed = list(csv.DictReader(io.StringIO(to_csv(ROWS))))
    assert list(parsed[0]) == list(BASE_COLUMNS)
    assert [int(p["id"]) for p in parsed] == [r.id for r in rows]
    for p, r in zip(parsed, rows):
        assert float(p["mu"]) == r.mu and float(p["sigma"]) == r.sigma
        assert float(p["conservative"]) == r.conservative
        assert (p["active"], p["anchor"]) == (str(r.active).lower(), str(r.anchor).lower())
        assert int(p["age"]) == r.age and int(p["games"]) == r.games and p["role"] == r.role


def test_json_parses_back_with_columns_and_rows():
    data = json.loads(to_json(ROWS, title="pong"))
    assert data["title"] == "pong"
    assert data["columns"] == list(BASE_COLUMNS)
    assert data["rows"][0] == {"role": "blue", "version": 1, "id": 2, "mu": 30.0, "sigma": 2.0,
                               "conservative": 24.0, "games": 12, "active": True, "anchor": False, "age": 1}
    assert [r["id"] for r in data["rows"]] == [2, 4, 0, 1, 3]


def test_extra_columns_render_in_every_format():
    rows = [row("blue", 0, 0, 25.0, 8.0, **{"win rate vs anchor": 0.625}), row("blue", 1, 1, 26.0, 1.0)]
    extra = {1: {"win rate vs anchor": 0.75, "elo": 1532.5}}
    columns = [*BASE_COLUMNS, "win rate vs anchor", "elo"]

    md = to_markdown(rows, extra=extra)
    assert "| " + " | ".join(columns) + " |" in md
    assert md.count("| 0.75 | 1532.5 |") == 1
    assert "| 0.625 |  |" in md  # the missing value is blank, not "None"

    parsed = list(csv.DictReader(io.StringIO(to_csv(rows, extra=extra))))
    assert list(parsed[0]) == columns
    assert parsed[0]["win rate vs anchor"] == "0.75" and parsed[0]["elo"] == "1532.5"
    assert parsed[1]["win rate vs anchor"] == "0.625" and parsed[1]["elo"] == ""

    data = json.loads(to_json(rows, extra=extra))
    assert data["columns"] == columns
    assert data["rows"][0]["elo"] == 1532.5 and data["rows"][1]["elo"] is None

    page = to_html(rows, extra=extra)
    assert "<th>win rate vs anchor</th>" in page and ">0.625<" in page and ">1532.5<" in page


def test_non_finite_extra_values_stay_valid_json():
    rows = [row("a", 0, 0, 25.0, 1.0, score=float("nan")), row("a", 1, 1, 25.0, 1.0, score=float("inf"))]
    data = json.loads(to_json(rows))
    assert sorted(map(str, (r["score"] for r in data["rows"]))) == ["None", "None"]


def test_html_is_a_standalone_page_with_a_plot_per_role():
    page = to_html(ROWS, title="Leaderboard <pong>")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<title>Leaderboard &lt;pong&gt;</title>" in page and "<style>" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched from outside
    imgs = re.findall(r'<img alt="([^"]*)" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert [alt.split(":")[0] for alt, _ in imgs] == ["blue", "red"]
    import base64
    for _, data in imgs:
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
    assert page.count("<table>") == 2
    assert page.index("<h2>blue</h2>") < page.index("<h2>red</h2>")
    assert '<tr class="retired">' in page and '<tr class="anchor">' in page


def test_html_escapes_role_names():
    page = to_html([row("<script>", 0, 0, 25.0, 1.0)])
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_empty_leaderboard_renders_in_every_format():
    assert "No members." in to_markdown([])
    assert to_csv([]).strip() == ",".join(BASE_COLUMNS)
    assert json.loads(to_json([]))["rows"] == []
    page = to_html([])
    assert "No members." in page and "<img" not in page


def test_rendering_is_deterministic():
    for fmt in FORMATS:
        assert render(ROWS, fmt) == render(ROWS, fmt)


# --- the CLI on a real pool ------------------------------------------------------------------------

@pytest.fixture
def pool_module():
    import league.pool

    return league.pool


@pytest.fixture
def pool_dir(tmp_path, pool_module):
    """A small real pool: two roles, four members, ratings changed through record_match."""
    from league.models import build_network, mlp_spec
    from ratings import Rating, TrueSkillSystem

    path = tmp_path / "pool"
    spec = mlp_spec(4, 2, (8,))
    weights = build_network(spec).state_dict()
    random_spec = {"kind": "random", "n_actions": 2}
    system = TrueSkillSystem()
    with pool_module.Pool.create(path, game="test_game", roles=["first", "second"]) as pool:
        a0 = pool.add("first", {}, spec=random_spec, hparams={}, step=0, anchor=True)
        b0 = pool.add("second", {}, spec=random_spec, hparams={}, step=0, anchor=True)
        a1 = pool.add("first", weights, spec=spec, hparams={"lr": 1e-3}, step=100, parent=a0.id)
        b1 = pool.add("second", weights, spec=spec, hparams={"lr": 1e-3}, step=100, parent=b0.id)
        ratings = {m.id: Rating(m.mu, m.sigma) for m in (a0, b0, a1, b1)}
        # a1 beats everyone, b0 loses to everyone: distinct mu and sigma for every member.
        for first, second, ranks in [(a1, b0, [1, 2]), (a1, b1, [1, 2]), (a0, b0, [1, 2]),
                                     (a1, b0, [1, 2]), (a0, b1, [2, 1])]:
            new = system.rate_seats([ratings[first.id], ratings[second.id]], ranks)
            ratings[first.id], ratings[second.id] = new
            pool.record_match(["player_0", "player_1"], [first.id, second.id], ranks,
                              [(r.mu, r.sigma) for r in new])
    return path, ratings


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "league.leaderboard", *map(str, args)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)


def test_cli_renders_every_format_of_a_real_pool(pool_dir, tmp_path, capsys):
    from league.leaderboard import main

    path, ratings = pool_dir
    assert main([str(path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by_id = {r["id"]: r for r in data["rows"]}
    assert set(by_id) == set(ratings)
    for i, r in ratings.items():
        assert by_id[i]["mu"] == pytest.approx(r.mu) and by_id[i]["sigma"] == pytest.approx(r.sigma)
        assert by_id[i]["conservative"] == pytest.approx(r.mu - 3 * r.sigma)
    assert [r["role"] for r in data["rows"]] == ["first", "first", "second", "second"]
    for role in ("first", "second"):
        cons = [r["conservative"] for r in data["rows"] if r["role"] == role]
        assert cons == sorted(cons, reverse=True)
    assert {(r["id"], r["age"], r["anchor"]) for r in data["rows"]} == {(0, 1, True), (1, 1, True),
                                                                        (2, 0, False), (3, 0, False)}
    assert by_id[2]["games"] == 3 and by_id[1]["games"] == 3

    assert main([str(path)]) == 0  # markdown is the default
    md = capsys.readouterr().out
    assert md.startswith("# Leaderboard: test_game") and "## first" in md and "## second" in md

    out = tmp_path / "board.csv"
    assert main([str(path), "--format", "csv", "--output", str(out)]) == 0
    assert capsys.readouterr().out == ""
    parsed = list(csv.DictReader(out.open()))
    assert [int(p["id"]) for p in parsed] == [r["id"] for r in data["rows"]]

    out = tmp_path / "board.html"
    assert main([str(path), "-f", "html", "-o", str(out)]) == 0
    page = out.read_text()
    assert "<h2>first</h2>" in page and "<h2>second</h2>" in page
    # Rating by version per role (2), the first x second payoff panel, the reliability of the
    # ratings on the match log, rating against time (no metrics.csv beside this pool: no curves).
    assert page.count("<img ") == 5 and "<h2>Payoff between roles</h2>" in page
    assert "5 matches" in page and "<h2>Training curves</h2>" in page and "Learning check" not in page


def test_cli_leaves_the_pool_unchanged(pool_dir):
    path, _ = pool_dir
    before = {p: p.read_bytes() for p in path.rglob("*") if p.is_file()}
    from league.leaderboard import main
    assert main([str(path), "-f", "md"]) == 0
    assert {p: p.read_bytes() for p in path.rglob("*") if p.is_file()} == before


def test_cli_on_a_missing_pool_prints_one_line_and_exits_2(tmp_path, pool_module):
    result = run_cli(tmp_path / "nowhere", "--format", "md")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("python -m league.leaderboard: error:") and "nowhere" in lines[0]


def test_cli_on_a_corrupt_pool_exits_2(pool_dir, capsys):
    from league.leaderboard import main

    path, _ = pool_dir
    index = path / "index.h5"
    index.write_bytes(b"not an hdf5 file" * 10)
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "error:" in err


def test_cli_on_an_unwritable_output_exits_2(pool_dir, tmp_path, capsys):
    from league.leaderboard import main

    path, _ = pool_dir
    assert main([str(path), "--output", str(tmp_path / "no" / "such" / "dir.md")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "cannot write" in err


def test_cli_head_to_head_refuses_bad_arguments_and_games_it_cannot_play(pool_dir, capsys):
    from league.leaderboard import main

    path, _ = pool_dir
    before = {p: p.read_bytes() for p in path.rglob("*") if p.is_file()}
    for args, says in ((["--seed", "3"], "--seed needs --head-to-head"),
                       (["--head-to-head", "1"], "at least 2 episodes"),
                       # The pool's game is not a registered one: there is nothing to play.
                       (["--head-to-head", "10"], "cannot play the head-to-head check")):
        assert main([str(path), *args]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and len(captured.err.strip().splitlines()) == 1 and says in captured.err
    assert "test_game" in captured.err
    assert {p: p.read_bytes() for p in path.rglob("*") if p.is_file()} == before


def test_cli_piped_into_a_reader_that_quits_early_prints_no_traceback(pool_dir):
    path, _ = pool_dir
    proc = subprocess.Popen([sys.executable, "-m", "league.leaderboard", str(path), "-f", "html"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    proc.stdout.close()  # like `| head -c 0`: gone long before the interpreter has even started
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 0
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_the_match_log_reproduces_the_pools_ratings(pool_dir, pool_module):
    from ratings import Rating, TrueSkillSystem, replay_trueskill

    path, ratings = pool_dir
    with pool_module.Pool.open(path, mode="r") as pool:
        members = pool.members()
        replayed = replay_trueskill(pool.matches(), TrueSkillSystem(),
                                    initial={m.id: Rating(pool.initial_mu, pool.initial_sigma) for m in members})
    assert replayed == ratings
    assert {m.id: Rating(m.mu, m.sigma) for m in members} == ratings


def test_cli_elo_column_is_recomputed_from_the_match_log(pool_dir, capsys):
    from league.leaderboard import main
    from ratings import Elo

    path, _ = pool_dir
    assert main([str(path), "--format", "json", "--elo"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["columns"][-1] == "elo"
    elo = {r["id"]: r["elo"] for r in data["rows"]}
    # The fixture's log, replayed by hand: (winner, loser) in order.
    e = {i: 1500.0 for i in range(4)}
    for w, l in [(2, 1), (2, 3), (0, 1), (2, 1), (3, 0)]:
        e[w], e[l] = Elo().rate([e[w], e[l]], [1, 2])
    assert elo == pytest.approx(e)
    assert sum(elo.values()) == pytest.approx(6000.0)
    assert main([str(path), "--elo"]) == 0
    assert "| elo |" in capsys.readouterr().out
