"""One hand of limit Texas hold'em under RLCard's rules, on plain integers.

PettingZoo's ``texas_holdem_v4`` plays RLCard's ``LimitHoldemGame``, which builds 52 ``Card``
objects, a dealer, players, a judger and a round object for every hand and keeps card strings;
most of a hand's time goes there, not to the rules. ``LimitHand`` plays the same hand on a few
lists of integers: cards are RLCard's deck positions (suits S, H, D, C; ranks A, 2 .. K), which
are also RLCard's observation indices (``card2index.json``), so an observation is the card
numbers themselves.

What must stay RLCard's, and is (``tests/test_match_engine.py`` plays thousands of hands of
both, every observation, flag and reward compared):

* the generator's draws, in order: the deck's shuffle, the small blind's seat, and (split pots
  that do not divide) the judger's pick of a winner for the odd chip;
* the betting: blinds 1 and 2, raises of 2 then (from the turn) 4, at most 4 raises a round,
  a round over once as many checks and calls (counting the last raise) as there are seats;
* the showdown: RLCard's own ``compare_hands`` ranks the hands; the pots are split as its
  judger splits them.
"""

from __future__ import annotations

import numpy as np
from rlcard.games.limitholdem.utils import compare_hands

__all__ = ["CALL", "RAISE", "FOLD", "CHECK", "CARD_NAMES", "LimitHand"]

CALL, RAISE, FOLD, CHECK = 0, 1, 2, 3
"""PettingZoo's action indices (RLCard's ``actions`` order)."""
CARD_NAMES = tuple(s + r for s in "SHDC" for r in "A23456789TJQK")
"""RLCard's card strings by deck position (``Card.get_index``)."""

_BIG_BLIND = 2
_RAISE = _BIG_BLIND
_MAX_RAISES = 4
_RAISE_HOT = (52, 57, 62, 67)
"""Each betting round's raise count as RLCard's observation encodes it (``52 + 5 * round +
raises``; ``LimitHand.raise_hot``), here for no raises yet."""


class LimitHand:
    """The state of one hand; ``deal`` starts one, ``act`` plays the seat to move."""

    __slots__ = ("n", "rng", "hole", "public", "deck", "in_chips", "folded", "pointer",
                 "round", "raise_amount", "raises", "calls", "raised", "top", "raise_hot", "over")

    def __init__(self, num_players: int, rng: np.random.RandomState):
        self.n = num_players
        self.rng = rng

    def deal(self) -> None:
        """A new hand from the generator's current state (RLCard's ``init_game``)."""
        n = self.n
        deck = list(range(52))
        self.rng.shuffle(deck)  # the same Fisher-Yates draws RLCard's shuffle of its Card list makes
        hole: list[list[int]] = [[] for _ in range(n)]
        for i in range(2 * n):
            hole[i % n].append(deck.pop())
        self.hole = hole
        self.deck = deck
        self.public: list[int] = []
        small = int(self.rng.randint(0, n))
        big = (small + 1) % n
        chips = [0] * n
        chips[big] = _BIG_BLIND
        chips[small] = _BIG_BLIND // 2
        self.in_chips = chips
        self.folded = [False] * n
        self.pointer = (big + 1) % n
        self.round = 0
        self.raise_amount = _RAISE
        self.raises = 0
        self.calls = 0
        self.raised = chips[:]
        self.top = _BIG_BLIND  # max(raised): the bet to match in this betting round
        self.raise_hot = list(_RAISE_HOT)
        self.over = False

    def legal(self) -> list[int]:
        """The legal actions of the seat to move, ascending (RLCard's ``get_legal_actions``)."""
        mine, top = self.raised[self.pointer], self.top
        out = [CALL] if mine < top else []
        if self.raises < _MAX_RAISES:
            out.append(RAISE)
        out.append(FOLD)
        if mine == top:
            out.append(CHECK)
        return out

    def act(self, action: int) -> None:
        """The seat to move plays ``action``, which must be legal (RLCard's ``Game.step``)."""
        p, n, raised = self.pointer, self.n, self.raised
        if action == CALL:
            top = self.top
            self.in_chips[p] += top - raised[p]
            raised[p] = top
            self.calls += 1
        elif action == RAISE:
            self.top = top = self.top + self.raise_amount
            self.in_chips[p] += top - raised[p]
            raised[p] = top
            self.raises += 1
            self.calls = 1
        elif action == FOLD:
            self.folded[p] = True
        else:
            self.calls += 1
        folded = self.folded
        p = (p + 1) % n
        while folded[p]:
            p = (p + 1) % n
        self.pointer = p
        self.raise_hot[self.round] = 52 + 5 * self.round + self.raises
        if self.calls >= n:  # the betting round is over
            if self.round == 0:
                self.public += [self.deck.pop(), self.deck.pop(), self.deck.pop()]
            elif self.round <= 2:
                self.public.append(self.deck.pop())
            if self.round == 1:
                self.raise_amount = 2 * _RAISE
            self.round += 1
            self.raises = 0
            self.calls = 0
            self.raised = [0] * n
            self.top = 0
        self.over = self.round >= 4 or folded.count(False) == 1

    def payoffs(self) -> list[float]:
        """Each seat's result in big blinds (RLCard's ``get_payoffs``, as floats)."""
        public = self.public
        winners = compare_hands([None if f else [CARD_NAMES[c] for c in h + public]
                                 for h, f in zip(self.hole, self.folded)])
        return [(w - c) / _BIG_BLIND for w, c in zip(self._split(winners), self.in_chips)]

    def _split(self, winners: list[int]) -> list[int]:
        """The chips each seat takes from the pots (RLCard's ``split_pots_among_players``).

        Pot by pot, smallest stake first: a pot nobody or everybody in it won goes back to its
        payers; otherwise its winners share it, and chips that do not divide go to one winner
        drawn by the generator, from the same list RLCard's judger draws from. One winner who
        matched every bet (most hands) takes every pot, without a draw: that is answered at once."""
        if sum(winners) == 1 and self.in_chips[winners.index(1)] == max(self.in_chips):
            won = [0] * self.n
            won[winners.index(1)] = sum(self.in_chips)
            return won
        chips = self.in_chips[:]
        won = [0] * self.n
        while True:
            payers = [i for i, v in enumerate(chips) if v > 0]
            if not payers:
                return won
            takers = [i for i in payers if winners[i]]
            if not takers or len(takers) == len(payers):
                for i in payers:
                    won[i] += chips[i]
                return won
            stake = min(chips[i] for i in payers)
            share, odd = divmod(stake * len(payers), len(takers))
            for i in takers:
                won[i] += share
            for i in payers:
                chips[i] -= stake
            if odd:
                won[int(self.rng.choice(takers))] += odd
