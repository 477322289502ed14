"""envs: PettingZoo games as single-agent self-play Gymnasium envs, and the game registry.

Imports nothing from ``league``; opponents arrive through the protocol in ``envs.opponents``.
"""

__all__: list[str] = []
