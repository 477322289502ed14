"""One module per supported game; each exposes ``game(**kwargs) -> envs.Game``."""
