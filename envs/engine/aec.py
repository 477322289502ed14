"""Driving AEC games: one seat moves at a time, so each copy adds at most one decision a round."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from envs.engine.npc import NpcRound
from envs.spaces import check_action

if TYPE_CHECKING:
    from envs.engine.core import Engine

__all__ = ["begin", "learner_step", "advance"]


def begin(engine: Engine, indices: list[int]) -> None:
    """Play the NPCs of freshly started copies until each is at the learner's turn."""
    advance(engine, indices)


def learner_step(engine: Engine, i: int, action: Any) -> bool:
    """Apply the learner's ``action`` in copy ``i``; an illegal one ends the episode, lost.

    Always ``True``: every copy goes on to ``advance`` (a restarted one plays its NPCs too).
    """
    c = engine.copies[i]
    if not engine.discrete:
        action = check_action(engine.action_spec, action, engine.mask[i] if engine.game.masked else None)
    if action is None or (engine.discrete and not (0 <= action < engine.n_actions and engine.mask[i, action])):
        c.illegal = engine.learner
        c.returns[engine.learner] += engine.game.illegal_reward
        c.length += 1
        engine.finish(i)
        return True
    env = c.env
    env.step(action)
    c.length += 1
    returns = c.returns
    for s, r in env.rewards.items():
        if r:
            returns[s] += r
    return True


def advance(engine: Engine, pending: list[int]) -> None:
    """Play NPC rounds until every copy in ``pending`` waits for the learner or is idle."""
    copies = engine.copies
    learner = engine.learner
    observe = engine.observe
    while pending:
        npcs = NpcRound(engine)
        for i in pending:
            c = copies[i]
            if c.idle:
                continue
            env = c.env
            while True:
                agent = env.agent_selection
                if env.terminations[agent] or env.truncations[agent]:
                    if all(env.terminations[a] or env.truncations[a] for a in env.agents):
                        engine.finish(i)
                        if c.idle:
                            break
                        continue
                    if agent == learner and not c.first_turn and not engine.ended[i]:
                        engine.flag_learner(i)  # the learner's agent died: its transitions end here
                    env.step(None)  # a seat that left early takes its dead step
                    continue
                if agent == learner:
                    engine.learner_turn(i, observe(env, agent))
                    break
                npcs.add(i, agent, observe(env, agent))
                break
        pending = []
        for i, _, a in npcs.play():
            c = copies[i]
            env = c.env
            env.step(a)
            returns = c.returns
            for s, r in env.rewards.items():
                if r:
                    returns[s] += r
            pending.append(i)
