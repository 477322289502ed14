"""The stepping engine shared by the self-play envs (``envs.selfplay``) and matches (``envs.match``).

One engine drives N copies of a raw PettingZoo env (AEC or parallel API). After the learner's
action it plays NPC rounds: in each round every copy whose turn belongs to an NPC contributes
one decision, decisions are grouped by member, and each member runs one batched forward pass.

    state     ``Copy``: one raw env, its generator, seating and running episode totals
    seating   ``Seater``: who sits where (opponent draws at redraw points, forced seatings)
    npc       ``NpcRound``: a round's NPC decisions grouped by member, one forward pass each
    aec       the AEC driver (one seat moves at a time)
    parallel  the parallel driver (every live seat acts each step)
    core      ``Engine``: starts episodes, hands learner actions to the driver, ends episodes
"""

from envs.engine.core import Engine
from envs.engine.npc import NpcRound, check_actions
from envs.engine.seating import Redraw, Seater
from envs.engine.state import Copy

__all__ = ["Engine", "Copy", "Seater", "Redraw", "NpcRound", "check_actions"]
