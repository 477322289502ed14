"""Rating the population: which seatings to play (``selection``), how results update ratings
(``evaluator``), and how matches are played (``matches``)."""
