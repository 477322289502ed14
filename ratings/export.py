"""Leaderboard rendering: member rows in, Markdown / CSV / JSON / standalone HTML out.

Pure: it knows nothing of the pool.  Rows may be mappings (``{"role": ..., "mu": ...}``), any
object with the same attributes (a ``league.pool.Member`` works as is), or ``LeaderboardRow``s.
Extra numeric columns (say, "win rate vs anchor") ride along in a row's ``extra`` mapping or in
the ``extra`` argument keyed by member id, and render in every format.

Rows are grouped by role (in the order of ``roles`` if given, else of first appearance) and
sorted by conservative rating, best first, within a role.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, Sequence

from ratings.rating import conservative

__all__ = [
    "BASE_COLUMNS",
    "FORMATS",
    "LeaderboardRow",
    "leaderboard_rows",
    "render",
    "to_csv",
    "to_html",
    "to_json",
    "to_markdown",
]

BASE_COLUMNS: tuple[str, ...] = ("role", "version", "id", "mu", "sigma", "conservative", "games",
                                 "active", "anchor", "age")
"""Columns every leaderboard has, in order; extra columns follow them."""

_REQUIRED = ("role", "version", "id", "mu", "sigma", "games", "active", "anchor")
_RATING_COLUMNS = frozenset({"mu", "sigma", "conservative"})


@dataclass(frozen=True)
class LeaderboardRow:
    """One member as the leaderboard shows it."""

    role: str
    """The role (lineage) the member belongs to."""
    version: int
    """Per-role counter from 0."""
    id: int
    """Member id in the pool."""
    mu: float
    """TrueSkill mean."""
    sigma: float
    """TrueSkill standard deviation."""
    games: int
    """Rated games played."""
    active: bool
    """Whether the member is in the active index (opponents are sampled from it)."""
    anchor: bool
    """Whether the member is a pinned anchor."""
    age: int = 0
    """Versions of the same role added after this one (0 = newest); filled by ``leaderboard_rows``."""
    extra: Mapping[str, float | None] = field(default_factory=dict)
    """Extra numeric columns by name; ``None`` (or NaN) renders as blank."""

    @property
    def conservative(self) -> float:
        """``mu - 3 sigma``: what the leaderboard sorts by."""
        return conservative(self.mu, self.sigma)

    def value(self, column: str) -> Any:
        """The value of a base or extra column (``None`` for an extra this row lacks)."""
        if column in BASE_COLUMNS:
            return getattr(self, column)
        x = self.extra.get(column)
        return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def _get(item: Any, key: str, index: int) -> Any:
    if isinstance(item, Mapping):
        if key not in item:
            raise ValueError(f"leaderboard row {index} has no {key!r} (needs {', '.join(_REQUIRED)})")
        return item[key]
    if not hasattr(item, key):
        raise ValueError(f"leaderboard row {index} ({type(item).__name__}) has no attribute {key!r}")
    return getattr(item, key)


def _to_row(item: Any, index: int, extra: Mapping[str, Any]) -> LeaderboardRow:
    values = {key: _get(item, key, index) for key in _REQUIRED}
    try:
        row = LeaderboardRow(
            role=str(values["role"]), version=int(values["version"]), id=int(values["id"]),
            mu=float(values["mu"]), sigma=float(values["sigma"]), games=int(values["games"]),
            active=bool(values["active"]), anchor=bool(values["anchor"]))
    except (TypeError, ValueError) as e:
        raise ValueError(f"leaderboard row {index} has a bad value: {e}") from None
    own = item.get("extra") if isinstance(item, Mapping) else getattr(item, "extra", None)
    merged: dict[str, float | None] = {}
    for source in (own or {}, extra):
        for name, x in source.items():
            if name in BASE_COLUMNS:
                raise ValueError(f"extra column {name!r} clashes with a base leaderboard column")
            if x is not None and (isinstance(x, bool) or not isinstance(x, (int, float))):
                try:
                    x = float(x)
                except (TypeError, ValueError):
                    raise ValueError(f"extra column {name!r} of row {index} must be a number or None, "
                                     f"got {x!r}") from None
            merged[str(name)] = x
    return replace(row, extra=merged)


def leaderboard_rows(items: Iterable[Any], *, extra: Mapping[int, Mapping[str, Any]] | None = None,
                     roles: Sequence[str] | None = None) -> list[LeaderboardRow]:
    """Normalize ``items`` to rows with ``age`` filled in, grouped by role and sorted.

    Args:
        items: every member (age counts the newer versions present, so pass all of them).
        extra: extra columns per member id, merged over a row's own ``extra``.
        roles: order of the role groups; roles not listed follow in order of first appearance.

    Returns:
        Rows grouped by role, best conservative rating first within a role (ties: newer first).
    """
    extra = extra or {}
    rows = [_to_row(item, i, extra.get(_get(item, "id", i), {})) for i, item in enumerate(items)]
    order: dict[str, int] = {}
    for role in list(roles or []) + [r.role for r in rows]:
        order.setdefault(role, len(order))
    versions: dict[str, set[int]] = {}
    for r in rows:
        versions.setdefault(r.role, set()).add(r.version)
    aged = [replace(r, age=sum(v > r.version for v in versions[r.role])) for r in rows]
    return sorted(aged, key=lambda r: (order[r.role], -r.conservative, -r.version, r.id))


def _columns(rows: Sequence[LeaderboardRow]) -> list[str]:
    extras: dict[str, None] = {}
    for r in rows:
        extras.update(dict.fromkeys(r.extra))
    return [*BASE_COLUMNS, *extras]


def _groups(rows: Sequence[LeaderboardRow]) -> list[tuple[str, list[LeaderboardRow]]]:
    groups: dict[str, list[LeaderboardRow]] = {}
    for r in rows:
        groups.setdefault(r.role, []).append(r)
    return list(groups.items())


def _display(column: str, x: Any) -> str:
    """Human formatting shared by Markdown and HTML."""
    if x is None:
        return ""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if column in _RATING_COLUMNS:
        return f"{x:.2f}"
    if isinstance(x, float):
        if not math.isfinite(x):
            return str(x)
        # Three decimals suit win rates and Elo alike; trailing zeros are noise in a table.
        text = f"{x:.3f}".rstrip("0").rstrip(".")
        return "0" if text == "-0" else text
    return str(x)


def to_markdown(items: Iterable[Any], *, extra: Mapping[int, Mapping[str, Any]] | None = None,
                roles: Sequence[str] | None = None, title: str = "Leaderboard") -> str:
    """One Markdown table per role under a ``##`` heading."""
    rows = leaderboard_rows(items, extra=extra, roles=roles)
    columns = _columns(rows)
    out = [f"# {title}", ""]
    if not rows:
        return "\n".join(out + ["No members.", ""])
    for role, group in _groups(rows):
        out += [f"## {_md_escape(role)}", "",
                "| " + " | ".join(_md_escape(c) for c in columns) + " |",
                "|" + "|".join("---:" if c not in ("role", "active", "anchor") else "---" for c in columns) + "|"]
        for r in group:
            out.append("| " + " | ".join(_md_escape(_display(c, r.value(c))) for c in columns) + " |")
        out.append("")
    return "\n".join(out)


def _md_escape(text: str) -> str:
    # A bare "|" would split the cell; "\" first so the escape itself survives.
    return text.replace("\\", "\\\\").replace("|", "\\|")


def to_csv(items: Iterable[Any], *, extra: Mapping[int, Mapping[str, Any]] | None = None,
           roles: Sequence[str] | None = None, title: str = "Leaderboard") -> str:
    """One CSV table, header first; floats written exactly (``repr``), booleans as true/false.

    ``title`` is accepted for a uniform signature; CSV has no place for it.
    """
    rows = leaderboard_rows(items, extra=extra, roles=roles)
    columns = _columns(rows)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow([_csv_cell(r.value(c)) for c in columns])
    return buf.getvalue()


def _csv_cell(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, bool):
        return "true" if x else "false"
    # repr round-trips a float exactly; str of a numpy scalar might not.
    return repr(float(x)) if isinstance(x, float) else str(x)


def to_json(items: Iterable[Any], *, extra: Mapping[int, Mapping[str, Any]] | None = None,
            roles: Sequence[str] | None = None, title: str = "Leaderboard", indent: int | None = 2) -> str:
    """``{"title": ..., "columns": [...], "rows": [{column: value}, ...]}``, rows in leaderboard order.

    Non-finite numbers become ``null`` so that every JSON parser accepts the output.
    """
    rows = leaderboard_rows(items, extra=extra, roles=roles)
    columns = _columns(rows)

    def clean(x: Any) -> Any:
        return None if isinstance(x, float) and not math.isfinite(x) else x

    payload = {"title": title, "columns": columns, "rows": [{c: clean(r.value(c)) for c in columns} for r in rows]}
    return json.dumps(payload, indent=indent, allow_nan=False) + "\n"


def _plot_png(role: str, group: Sequence[LeaderboardRow]) -> bytes:
    """Conservative rating against version with the mu +- 3 sigma band, as PNG bytes."""
    # Figure + FigureCanvasAgg rather than pyplot: no global figure registry, no backend switch,
    # safe in worker threads and headless machines.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    pts = sorted(group, key=lambda r: r.version)
    x = [r.version for r in pts]
    mu = [r.mu for r in pts]
    lo = [r.mu - 3 * r.sigma for r in pts]
    hi = [r.mu + 3 * r.sigma for r in pts]
    fig = Figure(figsize=(8.0, 3.4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.fill_between(x, lo, hi, step=None, alpha=0.2, color="tab:blue", label="mu ± 3σ")
    ax.plot(x, mu, color="tab:blue", linewidth=1, alpha=0.6, label="mu")
    ax.plot(x, lo, color="tab:blue", linewidth=1.5, label="conservative (mu − 3σ)")
    for kind, keep, style in (("active", lambda r: r.active and not r.anchor, dict(marker="o", color="tab:blue")),
                              ("retired", lambda r: not r.active and not r.anchor,
                               dict(marker="o", markerfacecolor="white", color="tab:gray")),
                              ("anchor", lambda r: r.anchor, dict(marker="*", markersize=12, color="tab:red"))):
        sel = [r for r in pts if keep(r)]
        if sel:
            ax.plot([r.version for r in sel], [r.conservative for r in sel], linestyle="none",
                    label=kind, **style)
    ax.set_xlabel("version")
    ax.set_ylabel("rating")
    ax.set_title(role)
    ax.grid(True, alpha=0.3)
    if len(x) == 1:
        ax.set_xlim(x[0] - 1, x[0] + 1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    # Outside the axes: the band covers most of the plot area wherever the legend would go.
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    buf = io.BytesIO()
    # No "Software" stamp: the same rows give the same bytes across matplotlib versions' metadata.
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0 2em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.retired { color: #888; }
tr.anchor { font-weight: bold; }
img { max-width: 100%; }
"""


def to_html(items: Iterable[Any], *, extra: Mapping[int, Mapping[str, Any]] | None = None,
            roles: Sequence[str] | None = None, title: str = "Leaderboard") -> str:
    """A standalone page: per role, a rating-vs-version plot (inline PNG) and the table."""
    rows = leaderboard_rows(items, extra=extra, roles=roles)
    columns = _columns(rows)
    esc = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{esc(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
           f"<h1>{esc(title)}</h1>"]
    if not rows:
        out.append("<p>No members.</p>")
    for role, group in _groups(rows):
        png = base64.b64encode(_plot_png(role, group)).decode("ascii")
        out += ["<section>", f"<h2>{esc(role)}</h2>",
                f'<img alt="{esc(role)}: conservative rating by version" src="data:image/png;base64,{png}">',
                "<table>", "<thead><tr>" + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr></thead>",
                "<tbody>"]
        for r in group:
            cls = " ".join(k for k, on in (("anchor", r.anchor), ("retired", not r.active)) if on)
            cells = []
            for c in columns:
                x = r.value(c)
                numeric = isinstance(x, (int, float)) and not isinstance(x, bool)
                td = '<td class="num">' if numeric else "<td>"
                cells.append(f"{td}{esc(_display(c, x))}</td>")
            tr = f'<tr class="{cls}">' if cls else "<tr>"
            out.append(tr + "".join(cells) + "</tr>")
        out += ["</tbody>", "</table>", "</section>"]
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


FORMATS: dict[str, Callable[..., str]] = {
    "md": to_markdown,
    "csv": to_csv,
    "json": to_json,
    "html": to_html,
}
"""Renderers by format name."""


def render(items: Iterable[Any], format: str = "md", *,
           extra: Mapping[int, Mapping[str, Any]] | None = None,
           roles: Sequence[str] | None = None, title: str = "Leaderboard") -> str:
    """Render ``items`` in ``format`` (one of ``FORMATS``); see :func:`leaderboard_rows` for the rest."""
    try:
        renderer = FORMATS[format]
    except KeyError:
        raise ValueError(f"unknown leaderboard format {format!r}; valid: {', '.join(FORMATS)}") from None
    return renderer(items, extra=extra, roles=roles, title=title)
