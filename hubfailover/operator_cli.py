"""The operator subcommands of `hubfailover`: status, failover, recover, approve, reject, ack, failback, watch.

They call the operator API (hubfailover.api_client) of a deployed app or of `hubfailover serve`;
exit 0 on success, 1 when the API refuses or fails (the error and its field on stderr), 1 from
`watch` when the run (a failover or a recover) did not succeed. The key is read from the environment, never shown.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown
from rich.markup import escape
from rich.table import Table

from hubfailover.api_client import URL_ENV, ApiClient, ApiError

TERMINAL = {"Completed", "Failed", "Terminated", "Canceled"}
OPERATOR_COMMANDS = ("status", "failover", "recover", "approve", "reject", "ack", "failback", "watch", "report")


def add_operator_parsers(sub: Any) -> None:
    status = sub.add_parser("status", help="pairs: pointer, health streaks, readiness, last failover, cooldown, "
                                           "catalog age")
    status.add_argument("pair", nargs="?", help="one pair in detail (default: every pair)")
    status.add_argument("--json", action="store_true", help="print the API's JSON")

    failover = sub.add_parser("failover", help="start a failover of a pair (409 while one runs or in cooldown)")
    failover.add_argument("pair")
    failover.add_argument("--reason", required=True)
    failover.add_argument("--by", required=True, help="who asks (audited)")
    failover.add_argument("--dry-run", action="store_true", help="plan and report; write nothing")
    failover.add_argument("--drill", action="store_true", help="recover into the target without flipping")
    failover.add_argument("--force", action="store_true", help="start even during the cooldown")
    failover.add_argument("--target", help="hub to make active (default: the standby)")

    recover = sub.add_parser("recover", help="complete the last failover on the active hub: recreate and resubmit "
                                              "what is missing, never flip (409 while a run is in progress)")
    recover.add_argument("pair")
    recover.add_argument("--by", required=True, help="who asks (audited)")
    recover.add_argument("--reason", help="why (default: names the failover it completes)")
    recover.add_argument("--dry-run", action="store_true", help="plan and report; write nothing")

    for verdict in ("approve", "reject"):
        decide = sub.add_parser(verdict, help=f"{verdict} a failover waiting at its approval gate")
        decide.add_argument("instance", help="instance id, e.g. failover-PAIR")
        decide.add_argument("--by", required=True, help="who decides (audited; unverified without App Service "
                                                          "authentication)")
        decide.add_argument("--comment", default="")
        decide.add_argument("--run", help="the run decided for (watch shows it): refused if another run waits")

    ack = sub.add_parser("ack", help="acknowledge a failover: lifts the pair's cooldown")
    ack.add_argument("pair")
    ack.add_argument("--by", required=True)
    ack.add_argument("--comment", default="")

    failback = sub.add_parser("failback", help="switch back to the original primary once it is healthy")
    failback.add_argument("pair")
    failback.add_argument("--reason", required=True)
    failback.add_argument("--by", required=True)

    watch = sub.add_parser("watch", help="follow a failover or a recover live until it ends (exit 0 when it "
                                          "succeeded)")
    watch.add_argument("instance", help="failover-PAIR or recover-PAIR")
    watch.add_argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")
    watch.add_argument("--timeout", type=float, default=0, help="give up after this many seconds (0: never)")

    report = sub.add_parser("report", help="the last run's report (Markdown: timeline, RTO/RPO, counts, errors, "
                                           "what to do next)")
    report.add_argument("instance", help="instance id, e.g. failover-PAIR")
    report.add_argument("--plain", action="store_true", help="print the Markdown text even on a terminal")


def run_operator(args: argparse.Namespace, client: ApiClient | None = None,
                 console: Console | None = None) -> int:
    out = console or Console()
    err = Console(stderr=True) if console is None else console
    api = client or ApiClient.from_env()
    try:
        return _COMMANDS[args.command](api, args, out)
    except ApiError as exc:
        hint = f" (is serve running? set {URL_ENV})" if exc.status == 0 else ""
        err.print(f"[red]error[/] {args.command}: {exc}{hint}", markup=True, highlight=False)
        return 1


# -- commands ---------------------------------------------------------------------------------

def _status(api: ApiClient, args: argparse.Namespace, out: Console) -> int:
    views = [api.pair(args.pair)] if args.pair else api.pairs()
    if args.json:
        out.print_json(json.dumps(views[0] if args.pair else views, default=str))
        return 0
    if args.pair:
        out.print(_detail(views[0]))
    else:
        table = Table(title="hub pairs")
        for column in ("pair", "mode", "active", "gen", "health", "ready", "last failover", "cooldown",
                       "catalog age"):
            table.add_column(column, overflow="fold")
        for view in views:
            table.add_row(*_status_row(view))
        out.print(table)
    for view in views:
        for running in (view.get("failover"), view.get("recover")):
            if running and running.get("runtime_status") not in TERMINAL:
                out.print(f"{view['pair']}: {running['instance_id']} is {running['runtime_status']} "
                          f"at stage {running.get('stage')}")
    return 0


def _status_row(view: dict[str, Any]) -> list[str]:
    pointer = view.get("pointer") or {}
    health = " ".join(f"{hub}:{'ok' if s.get('last_ok') else ('down' if s.get('last_ok') is False else '?')}"
                      f"({s.get('successes') or s.get('failures') or 0})" for hub, s in view["health"].items())
    last = view.get("last_failover") or {}
    cooldown = view["cooldown"]
    catalog = view.get("catalog") or {}
    age = catalog.get("age_seconds")
    return [view["pair"], view["mode"], pointer.get("active", "?"), str(pointer.get("generation", "?")), health,
            _ready(view.get("readiness") or {}),
            f"{last.get('outcome')} -> {last.get('target')}" if last else "-",
            f"since {cooldown['since']}" if cooldown["in_force"] else "-",
            f"{age:.0f} s" if isinstance(age, int | float) else "never synced"]


def _ready(readiness: dict[str, Any]) -> str:
    if readiness.get("ready") is None:
        return "not checked"
    if readiness["ready"]:
        return "[green]ready[/]"
    return f"[red]NOT READY[/] ({len(readiness.get('reasons') or [])} reason(s))"


def _drift_line(drift: dict[str, Any] | None) -> str:
    if not drift:
        return "-"
    kinds = ", ".join(f"{kind} {count}" for kind, count in (drift.get("to_recreate") or {}).items() if count)
    jobs = drift.get("jobs_to_resubmit") or 0
    return f"would recreate {kinds or 'nothing'}; would resubmit {jobs} job(s)"


def _detail(view: dict[str, Any]) -> Table:
    pointer, cooldown = view.get("pointer") or {}, view["cooldown"]
    table = Table(title=f"pair {view['pair']} ({view['mode']})", show_header=False)
    table.add_row("active", f"{pointer.get('active', '?')} (generation {pointer.get('generation', '?')}, "
                            f"changed {pointer.get('changed_at', '?')} by {pointer.get('changed_by', '?')})")
    for hub, streak in view["health"].items():
        table.add_row(f"health {hub}", f"last {'ok' if streak.get('last_ok') else 'failed'}: "
                                       f"{streak.get('successes', 0)} ok / {streak.get('failures', 0)} failed in a row"
                      if streak.get("last_at") else "never probed")
    last = view.get("last_failover")
    table.add_row("last failover", f"{last['outcome']} -> {last.get('target')} at {last.get('completed_at')}"
                  + (f": {last['reason']}" if last.get("reason") else "") if last else "-")
    flip, recovered = view.get("last_flip"), view.get("last_recover")
    if flip and flip.get("run") != (last or {}).get("run"):
        table.add_row("last flip", f"{flip.get('outcome')} -> {flip.get('target')} (generation "
                                   f"{flip.get('generation')}) by {flip.get('run')}")
    if recovered:
        table.add_row("last recover", f"{recovered['outcome']} at {recovered.get('completed_at')}, completing "
                                      f"{recovered.get('completes')}"
                      + (f": {recovered['reason']}" if recovered.get("reason") else ""))
    decision = view.get("last_decision")
    if decision:
        verdict = "started" if decision.get("started") else "not started"
        table.add_row("last decision", f"{decision.get('kind')} by {decision.get('requested_by')}: {verdict}: "
                                       f"{decision.get('why')}")
    table.add_row("cooldown", f"since {cooldown['since']}, until acknowledged" if cooldown["in_force"] else "none")
    failback = view.get("failback") or {}
    table.add_row("failback", f"{failback.get('original_primary_successes')}/{failback.get('threshold')} healthy "
                              "probes of the original primary")
    catalog = view.get("catalog") or {}
    table.add_row("catalog", f"{catalog.get('hub')}: {catalog.get('age_seconds')} s old" if catalog.get("taken_at")
                  else f"{catalog.get('hub')}: never synced")
    readiness = view.get("readiness") or {}
    table.add_row("readiness", f"{_ready(readiness)}" + (f", checked {readiness['checked_at']}"
                                                         if readiness.get("checked_at") else ""))
    for reason in readiness.get("reasons") or []:
        table.add_row("", f"[red]-[/] {escape(reason)}")
    if readiness.get("checked_at"):
        table.add_row("drift", _drift_line(readiness.get("drift")))
    for kind in ("failover", "recover"):
        running = view.get(kind)
        if running:
            table.add_row(kind, f"{running['instance_id']} {running['runtime_status']} (stage {running.get('stage')})")
    return table


def _failover(api: ApiClient, args: argparse.Namespace, out: Console) -> int:
    answer = api.failover(args.pair, reason=args.reason, requested_by=args.by, dry_run=args.dry_run,
                          drill=args.drill, force=args.force, target=args.target)
    out.print(f"started [bold]{answer['instance_id']}[/]: {answer['why']}")
    out.print(f"follow it: hubfailover watch {answer['instance_id']}")
    return 0


def _recover(api: ApiClient, args: argparse.Namespace, out: Console) -> int:
    answer = api.recover(args.pair, requested_by=args.by, reason=args.reason, dry_run=args.dry_run)
    out.print(f"started [bold]{answer['instance_id']}[/]: {answer['why']}")
    out.print(f"follow it: hubfailover watch {answer['instance_id']}")
    return 0


def _decide(api: ApiClient, args: argparse.Namespace, out: Console) -> int:
    answer = api.decide(args.instance, args.command, by=args.by, comment=args.comment, run=args.run)
    out.print(f"{answer['decision']} sent to {answer['instance_id']} (run {answer['run']}) by {answer['by']}",
              highlight=False)
    return 0


def _ack(api: ApiClient, args: argparse.Namespace, out: Console) -> int:
    answer = api.acknowledge(args.pair, by=args.by, comment=args.comment)
    lifted = "cooldown lifted" if answer["cooldown_lifted"] else "no cooldown was in force"
    out.print(f"{answer['pair']}: acknowledged by {answer['acknowledged_by']}; {lifted}")
    return 0


def _failback(api: ApiClient, args: argparse.Namespace, out: Console) -> int:
    answer = api.failback(args.pair, reason=args.reason, requested_by=args.by)
    out.print(f"failback started [bold]{answer['instance_id']}[/]: {answer['why']}")
    out.print(f"follow it: hubfailover watch {answer['instance_id']}")
    return 0


def _watch(api: ApiClient, args: argparse.Namespace, out: Console) -> int:
    deadline = time.monotonic() + args.timeout if args.timeout > 0 else None
    status = api.failover_status(args.instance)
    with Live(_progress(status), console=out, refresh_per_second=4, transient=False) as live:
        while status.get("runtime_status") not in TERMINAL:
            if deadline is not None and time.monotonic() > deadline:
                raise ApiError(0, f"{args.instance} still {status.get('runtime_status')} after {args.timeout:.0f} s")
            time.sleep(max(args.interval, 0.05))
            status = api.failover_status(args.instance)
            live.update(_progress(status))
    out.print()
    report = _dict(status.get("report"))
    for line in _report_lines(status, report):
        out.print(line, highlight=False)
    return 0 if status.get("runtime_status") == "Completed" and report.get("outcome") == "succeeded" else 1


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _progress(status: dict[str, Any]) -> Table:
    progress = _dict(status.get("progress"))
    table = Table(title=f"{status.get('instance_id')}", show_header=False)
    table.add_row("runtime", str(status.get("runtime_status")))
    table.add_row("stage", str(status.get("stage") or "-"))
    total = progress.get("total") or 0
    table.add_row("progress", f"{progress.get('done', 0)}/{total}" if total else "-")
    if progress.get("approval_timeout_minutes") and status.get("stage") == "awaiting_approval":
        table.add_row("approval", f"waiting (times out in {progress['approval_timeout_minutes']} min): "
                                  f"hubfailover approve|reject {status.get('instance_id')} --by NAME "
                                  f"--run {progress.get('run')}")
        if progress.get("ignored_events"):
            table.add_row("ignored", f"{progress['ignored_events']} unverified approval event(s), audited")
    if progress.get("outcome"):
        table.add_row("outcome", str(progress["outcome"]))
    return table


def _report_lines(status: dict[str, Any], report: dict[str, Any]) -> list[str]:
    if not report:
        return [f"{status.get('instance_id')} ended {status.get('runtime_status')}: {status.get('report')}"]
    pointer, jobs = report.get("pointer") or {}, report.get("jobs") or {}
    artifacts = report.get("artifacts") or {}
    lines = [f"outcome: {report.get('outcome')}" + (f" ({report['outcome_reason']})"
                                                     if report.get("outcome_reason") else ""),
             f"pointer: {pointer.get('before')} -> {pointer.get('after')} "
             f"(generation {pointer.get('generation_before')} -> {pointer.get('generation_after')})",
             f"jobs: {jobs.get('resubmitted', 0)} resubmitted, {jobs.get('already_present', 0)} already there, "
             f"{jobs.get('failed', 0)} failed of {jobs.get('interrupted', 0)}",
             "artifacts: " + (", ".join(f"{k} {v.get('recreated', 0)}+{v.get('already_present', 0)}"
                                        f"/{v.get('expected', 0)}" for k, v in artifacts.items()) or "-")]
    completes = report.get("completes") or {}
    if completes:
        lines.append(f"completes: {completes.get('run')} ({completes.get('outcome')}), catalog snapshot "
                     f"{completes.get('snapshot')}")
    durations = report.get("durations") or {}
    if durations.get("total_s") is not None:
        lines.append(f"total {durations['total_s']} s (flip {durations.get('flip_s')} s)")
    lines += [f"error {e.get('where')}: {e.get('error')}" for e in (report.get("errors") or [])[:10]]
    step = report.get("recover") or {}
    if step:
        lines.append(f"next: {step.get('command')}  (or {step.get('route')})")
    return lines


def _report(api: ApiClient, args: argparse.Namespace, out: Console) -> int:
    text = api.report(args.instance)
    if out.is_terminal and not args.plain:
        out.print(Markdown(text))
    else:
        out.print(text, markup=False, highlight=False, soft_wrap=True)
    return 0


_COMMANDS = {"status": _status, "failover": _failover, "recover": _recover, "approve": _decide, "reject": _decide,
             "ack": _ack, "failback": _failback, "watch": _watch, "report": _report}
