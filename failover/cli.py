"""`hubfailover`: the operator CLI (also `python -m failover`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hubfailover", description="Failover orchestrator for Azure ML hubs")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("drill", help="rehearse a failover locally on embedded Azurite")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "drill":
        from failover.drill import run_drill_command

        return run_drill_command(args)
    return 2
