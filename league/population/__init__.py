"""The population: who a learner plays (``sampling``, ``opponents``) and who is retired (``pruning``)."""
