"""``python -m league.export POOL --member ID --format torchscript|onnx|safetensors``.

Writes one member as a standalone file that maps observations (and a legal-action mask) to
action probabilities, the member's masked softmax exactly as it plays in the league:

``torchscript`` (``.pt``)
    ``torch.jit.load(path)(obs, mask)``: ``obs`` float32 ``[B, obs_dim]``, ``mask`` bool
    ``[B, n_actions]`` (omit it for an unmasked game) -> float32 ``[B, n_actions]``. Needs only torch.
``onnx`` (``.onnx``)
    inputs ``obs`` (float32 ``[B, obs_dim]``) and ``mask`` (bool ``[B, n_actions]``; all true for
    an unmasked game), output ``probs``; runs in ``onnxruntime`` (``pip install -e '.[export]'``).
``safetensors`` (``.safetensors``)
    the actor's weights, with the member's spec, id, role and game in the file's metadata
    (``league.spec`` is JSON); ``load_exported`` rebuilds the network from it.

``load_exported(path)`` reads any of the three back as ``probs(obs, mask) -> np.ndarray``.
The member may be named by id or ``best:<role>`` (see ``league.policy``); the pool is only read.
Only MLP members with discrete actions export; CNN, multi-discrete and Box members are a
one-line ``SpecError``.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn

from league.errors import LeagueError, SpecError

__all__ = ["FORMATS", "ProbsModule", "export_member", "load_exported", "main"]

FORMATS = {"torchscript": ".pt", "onnx": ".onnx", "safetensors": ".safetensors"}
_PROG = "python -m league.export"


class ProbsModule(nn.Module):
    """The actor of a member with its mask applied: ``(obs, mask) -> probabilities``."""

    def __init__(self, actor: nn.Module):
        super().__init__()
        self.actor = actor

    def forward(self, obs: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        logits = self.actor(obs)
        # -1e9: league.models' masked logit (a literal: TorchScript cannot close over globals)
        if mask is not None:
            logits = torch.where(mask.to(torch.bool), logits, torch.full_like(logits, -1e9))
        return torch.softmax(logits, dim=-1)


def _actor_of(pool_dir: str | Path, who: int | str):
    from league.models import is_weightless, load_network
    from league.policy import pool_path, resolve_members
    from league.pool import Pool

    with Pool.open(pool_path(pool_dir), "r") as pool:
        members, _ = resolve_members(pool, who)
        if len(members) != 1:
            raise LeagueError(f"{who!r} names a mixture of {len(members)} members; export one member id")
        member = members[0]
        if is_weightless(member.spec):
            what = ("uniform random over legal actions" if member.spec.get("kind") == "random"
                    else f"the game's {member.spec.get('name')} reference")
            raise SpecError(f"member {member.id} is a weightless anchor ({what}); there is no network to export")
        if member.spec.get("kind") != "mlp" or member.spec.get("action") is not None:
            what = member.spec.get("action", {}).get("type") or member.spec.get("kind")
            raise SpecError(f"member {member.id} has a {what} network ({member.spec.get('kind')} with "
                            f"{what} actions); export supports MLP members with discrete actions only")
        net = load_network(member.spec, pool.weights(member.id))
        return member, pool.game, net


def export_member(pool_dir: str | Path, who: int | str, fmt: str, output: str | Path | None = None) -> Path:
    """Write member ``who`` of the pool in ``fmt``; returns the file written."""
    if fmt not in FORMATS:
        raise LeagueError(f"unknown export format {fmt!r}; valid: {sorted(FORMATS)}")
    member, game, net = _actor_of(pool_dir, who)
    out = Path(output) if output is not None else Path(f"member-{member.id}{FORMATS[fmt]}")
    module = ProbsModule(net.actor).eval()
    spec = member.spec
    if fmt == "torchscript":
        torch.jit.script(module).save(str(out))
    elif fmt == "onnx":
        obs = torch.zeros(1, spec["obs_dim"])
        mask = torch.ones(1, spec["n_actions"], dtype=torch.bool)
        try:
            with warnings.catch_warnings():
                # the TorchScript-based exporter: the dynamo one needs onnxscript, one dependency more
                warnings.simplefilter("ignore", DeprecationWarning)
                torch.onnx.export(module, (obs, mask), str(out), input_names=["obs", "mask"],
                                  output_names=["probs"], dynamo=False,
                                  dynamic_axes={"obs": {0: "batch"}, "mask": {0: "batch"}, "probs": {0: "batch"}})
        except ImportError as exc:
            raise LeagueError(f"ONNX export needs onnx: pip install -e '.[export]' ({exc})") from None
    else:
        from safetensors.torch import save_file

        meta = {"league.spec": json.dumps(dict(spec)), "league.member": str(member.id),
                "league.role": member.role, "league.game": game}
        save_file({k: v.contiguous() for k, v in net.actor.state_dict().items()}, str(out), metadata=meta)
    return out


def load_exported(path: str | Path) -> Callable[[np.ndarray, np.ndarray | None], np.ndarray]:
    """An exported file as ``probs(obs [B, obs_dim], mask [B, n_actions] or None) -> [B, n_actions]``."""
    path = Path(path)
    if path.suffix == ".onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        n_actions = session.get_outputs()[0].shape[-1]

        def run_onnx(obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
            obs = np.atleast_2d(np.asarray(obs, dtype=np.float32))
            mask = np.ones((obs.shape[0], n_actions), bool) if mask is None else np.atleast_2d(mask).astype(bool)
            return session.run(["probs"], {"obs": obs, "mask": mask})[0]

        return run_onnx
    if path.suffix == ".safetensors":
        from safetensors import safe_open
        from safetensors.torch import load_file

        from league.models import ActorCritic

        with safe_open(str(path), "pt") as f:
            spec = json.loads(f.metadata()["league.spec"])
        net = ActorCritic(spec, init=False)
        net.actor.load_state_dict(load_file(str(path)))
        module = ProbsModule(net.actor).eval()
    else:
        module = torch.jit.load(str(path))

    @torch.no_grad()
    def run_torch(obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        o = torch.as_tensor(np.atleast_2d(np.asarray(obs, dtype=np.float32)))
        m = None if mask is None else torch.as_tensor(np.atleast_2d(mask).astype(bool))
        return module(o, m).numpy()

    return run_torch


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=_PROG, description="Export a member as a standalone file: observation "
                                "(+ legal-action mask) in, action probabilities out.")
    p.add_argument("pool", metavar="POOL", help="a pool directory or a run's output directory")
    p.add_argument("--member", required=True, metavar="ID|best:ROLE", help="the member to export")
    p.add_argument("--format", choices=list(FORMATS), default="torchscript", help="file format (default: torchscript)")
    p.add_argument("--output", "-o", metavar="FILE", help="where to write (default: ./member-<id>.<ext>)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        out = export_member(args.pool, args.member, args.format, args.output)
    except LeagueError as exc:
        print(f"league.export: error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
