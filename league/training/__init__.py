"""Training one learner: PPO (``ppo``), the loop with stop rules and callbacks (``trainer``,
``callbacks``), per-role hyperparameter ranges (``hparams``) and console progress (``progress``)."""
