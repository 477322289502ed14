"""Rating the population: which seatings to play and how results update ratings (``evaluator``),
and how matches are played (``matches``)."""
