"""The league run: its plan and run state (``plan``), the config-to-turn translation (``phase``),
the loop (``league``), the runner protocol and backend choice (``protocol``), and the
end-of-run leaderboards (``report``)."""

from league.orchestration.league import POOL_DIR, League
from league.orchestration.plan import RunState, Turn, derive_seed, plan_turns
from league.orchestration.protocol import LeagueRunner, make_league
from league.orchestration.report import write_report

__all__ = ["League", "LeagueRunner", "make_league", "Turn", "plan_turns", "RunState", "derive_seed",
           "write_report", "POOL_DIR"]
