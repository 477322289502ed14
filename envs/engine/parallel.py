"""Driving parallel games: every live seat acts each step, the learner's action joins the NPCs'."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from envs.engine.npc import NpcRound
from envs.spaces import check_action

if TYPE_CHECKING:
    from envs.engine.core import Engine

__all__ = ["begin", "learner_step", "advance"]


def begin(engine: Engine, indices: list[int]) -> None:
    """Freshly started copies are at the learner's turn at once: every seat observes at reset
    (without a learner, they are played to the end)."""
    if engine.learner is None:
        advance(engine, indices)
        return
    for i in indices:
        engine.learner_turn(i, engine.copies[i].raw[engine.learner])


def learner_step(engine: Engine, i: int, action: Any) -> bool:
    """Hold the learner's ``action`` for copy ``i``'s next joint step (``True``: step it).

    An action outside the action space ends the episode, lost, as in the AEC case (``False``).
    """
    c = engine.copies[i]
    if not engine.discrete:
        action = check_action(engine.action_spec, action, engine.mask[i] if engine.game.masked else None)
    c.action = action
    c.length += 1
    if action is not None and (not engine.discrete or 0 <= action < engine.n_actions):
        return True
    c.illegal = engine.learner
    c.returns[engine.learner] += engine.game.illegal_reward
    engine.finish(i)
    if not c.idle:
        engine.learner_turn(i, c.raw[engine.learner])
    return False


def advance(engine: Engine, pending: list[int]) -> None:
    """Step every copy in ``pending`` with its NPCs' and learner's joint action, until each is
    at the learner's next turn (NPCs play on alone in a copy whose learner left early)."""
    copies = engine.copies
    learner = engine.learner
    while pending:
        npcs = NpcRound(engine)
        for i in pending:
            c = copies[i]
            for seat in c.env.agents:
                if seat != learner:
                    npcs.add(i, seat, c.raw[seat])
        joint: dict[int, dict[str, int]] = {i: {} for i in pending}
        for i, seat, a in npcs.play():
            joint[i][seat] = a
        again = []
        for i in pending:
            c = copies[i]
            env = c.env
            acts = joint[i]
            if learner in env.agents:
                acts[learner] = c.action
            obs, rewards, terms, truncs, _ = env.step(acts)
            c.raw = obs
            c.flags = (terms, truncs)
            returns = c.returns
            for s, r in rewards.items():
                if r:
                    returns[s] += r
            over = not env.agents or all(terms[a] or truncs[a] for a in terms)
            if learner is not None and learner in acts and learner not in env.agents and not over \
                    and not engine.ended[i]:
                engine.flag_learner(i)  # its agent died or left: its transitions end here
            if over:
                engine.finish(i)
                if c.idle:
                    continue
                obs = c.raw  # restarted: its first observations
            if learner in env.agents:
                engine.learner_turn(i, obs[learner])
            else:
                again.append(i)  # no learner, or it left early: NPCs play on to the end
        pending = again
