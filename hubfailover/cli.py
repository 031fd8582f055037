"""`hubfailover`: the operator CLI (also `python -m hubfailover` and `python -m failover`)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path


def _fault_spec(text: str) -> str:
    from failover.hubs.simulated_fault import FaultConfig

    try:
        FaultConfig.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _kinds(text: str) -> tuple[str, ...]:
    from rehearsal.resume import parse_kinds

    try:
        return parse_kinds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _chunk_size(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 500:
        raise argparse.ArgumentTypeError(f"{text} is not between 1 and 500 (policy.chunk_size)")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port (0-65535)")
    return value


def _report_path(text: str) -> Path:
    """Where --json goes: refused before the run, not after it (a traceback and the report lost)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory; give a file name")
    parent = path.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"{text} is not writable")
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hubfailover", description="Failover orchestrator for Azure ML hubs")
    sub = parser.add_subparsers(dest="command", required=True)
    drill = sub.add_parser("drill", help="rehearse a whole failover locally (embedded Azurite, simulated hubs)")
    drill.add_argument("--jobs", type=_positive, default=40, help="jobs seeded on the primary (default 40)")
    drill.add_argument("--artifacts", type=_positive, default=60, help="artifacts seeded on the primary (default 60)")
    drill.add_argument("--seed", type=int, default=7, help="seed of the inventory and the faults")
    drill.add_argument("--mode", choices=("hot-hot", "hot-warm", "hot-cold"), default="hot-warm")
    drill.add_argument("--faults", default="", type=_fault_spec,
                       help='faults on the secondary, e.g. "latency_ms=20,throttle=0.1,flaky=0.05"; '
                            '"only=list_computes+get_asset" limits them to those calls')
    drill.add_argument("--crash-at", type=_positive, default=0, metavar="K",
                       help="SIGKILL the orchestration process after K activities, then resume from Azurite")
    drill.add_argument("--approval", choices=("approve", "reject", "timeout"), default="approve",
                       help="how the rehearsed operator answers where approval is needed")
    drill.add_argument("--require-approval", action="store_true", help="ask for approval whatever the mode")
    drill.add_argument("--dry-run", action="store_true", help="plan and report; write nothing")
    drill.add_argument("--drill-only", action="store_true", help="recover into the secondary but do not flip")
    drill.add_argument("--break", dest="break_kinds", type=_kinds, default=(), metavar="KINDS",
                       help="writes of these kinds (e.g. model,job) fail permanently on the secondary during the "
                            "failover: it ends failed with those items listed")
    drill.add_argument("--resume", action="store_true",
                       help="then lift that fault and complete the failover with `recover` (exit 0 only when the "
                            "recover succeeds and verification holds)")
    drill.add_argument("--chunk-size", type=_chunk_size, default=25, help="items per activity (default 25)")
    drill.add_argument("--json", type=_report_path, metavar="PATH", help="write the report as JSON")
    drill.add_argument("--report-md", type=_report_path, metavar="PATH",
                       help="write the report a person reads (Markdown: timeline, RTO/RPO, counts, errors)")

    from hubfailover.operator_cli import add_operator_parsers

    add_operator_parsers(sub)  # status, failover, recover, approve, reject, ack, failback, watch
    serve = sub.add_parser("serve", help="run the app's HTTP routes and timers on loopback (Azurite, replay host)")
    serve.add_argument("--port", type=_port, default=7071, help="loopback port (default 7071; 0: any free)")
    serve.add_argument("--config", help="hub-pair configuration: a path or the JSON (default: FAILOVER_CONFIG, "
                                        "else the drill's seeded world)")
    serve.add_argument("--storage", metavar="CONN", help="storage connection string (default: embedded Azurite)")
    serve.add_argument("--task-hub", help="task hub name (default: DURABLE_TASK_HUB_NAME or hubfailover)")
    serve.add_argument("--no-timers", action="store_true", help="do not run the timer functions")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "drill" and args.resume and (args.dry_run or args.drill_only):
        parser.error("--resume completes a failover that moved the pointer: not with --dry-run or --drill-only")
    if args.command == "drill":
        from rehearsal.drill import run_drill_command

        return run_drill_command(args)
    if args.command == "serve":
        from rehearsal.serve import serve_command

        return serve_command(args)
    from hubfailover.operator_cli import run_operator

    return run_operator(args)
