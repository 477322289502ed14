"""Every table row in the README's results comes verbatim from a committed results file."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_result_tables_come_from_results_files():
    readme = (ROOT / "README.md").read_text()
    results = "\n".join(p.read_text() for p in (ROOT / "benchmarks" / "results").glob("*.md"))
    sections = [readme[readme.index("## Benchmarks"):readme.index("## Development")],
                readme[readme.index("### What the default run shows"):readme.index("## What a run does")]]
    rows = [line for section in sections for line in section.splitlines()
            if line.startswith("|") and not set(line) <= set("|-: ")]
    assert len(rows) > 40
    missing = [row for row in rows if row not in results]
    assert not missing, missing[:3]


def test_the_readmes_config_error_example_is_what_the_cli_prints(capsys, tmp_path, monkeypatch):
    # The example lists every top-level key: a new config section must show up in it.
    from league.run import main

    monkeypatch.chdir(tmp_path)
    assert main(["trainig.max_steps=5"]) == 2
    line = capsys.readouterr().err.strip()
    assert line and line in (ROOT / "README.md").read_text()
    assert list(tmp_path.iterdir()) == []   # nothing written
