"""What the drill shows on the terminal: steps, live progress, the summary (rich)."""

from __future__ import annotations

import logging
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table


class DrillConsole:
    def __init__(self, console: Console | None = None, quiet: bool = False) -> None:
        # The storage SDKs' pool warnings are noise at drill concurrency, not a fault to show.
        logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
        self.console = console or Console(highlight=False)
        self.quiet = quiet
        self._last: tuple[Any, ...] = ()
        self._live: Progress | None = None
        self._task: TaskID | None = None

    def step(self, text: str) -> None:
        if not self.quiet:
            self.console.print(f"[bold cyan]»[/] {text}")

    def probe(self, primary_failures: int, secondary_successes: int, why: str) -> None:
        self.step(f"probe: primary failures in a row={primary_failures}, secondary healthy in a row="
                  f"{secondary_successes} -> {why}")

    def progress(self, custom: dict[str, Any]) -> None:
        """The orchestration's custom status: a live bar on a terminal, a line per change elsewhere."""
        if self.quiet or not custom:
            return
        stage, done, total = custom.get("stage"), int(custom.get("done") or 0), int(custom.get("total") or 0)
        if (stage, done, total) == self._last:
            return
        self._last = (stage, done, total)
        if self.console.is_terminal:
            if self._live is None or self._task is None:
                self._live = Progress(SpinnerColumn(), TextColumn("[green]{task.description}"), BarColumn(),
                                      MofNCompleteColumn(), TimeElapsedColumn(), console=self.console)
                self._live.start()
                self._task = self._live.add_task("failover", total=None)
            self._live.update(self._task, description=str(stage), completed=done, total=total or None)
            if stage == "done":
                self.end_progress()
            return
        self.console.print(f"  [green]stage[/] {stage}" + (f" {done}/{total}" if total else ""))

    def end_progress(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def summary(self, report: dict[str, Any]) -> None:
        self.end_progress()
        if self.quiet:
            return
        outcome = report.get("outcome")
        colour = "green" if outcome == "succeeded" and report.get("verification", {}).get("ok") else "red"
        head = Table(title=f"Failover drill: [{colour}]{outcome}[/]", show_header=False)
        head.add_column("what", style="bold")
        head.add_column("value")
        pointer = report.get("pointer", {})
        verification = report.get("verification", {})
        durations = report.get("durations", {})
        jobs = report.get("jobs", {})
        head.add_row("instance", str(report.get("instance_id")))
        head.add_row("pair / mode / trigger", f"{report.get('pair')} / {report.get('mode')} / {report.get('trigger')}")
        if report.get("outcome_reason"):
            head.add_row("reason", str(report["outcome_reason"]))
        decisions = report.get("decisions") or []
        if decisions:
            started = next((d for d in decisions if d.get("start")), None)
            head.add_row("detection", f"{len(decisions)} probe round(s): " + (
                f"started: {started.get('why')}" if started else f"declined: {decisions[-1].get('why')}"))
        head.add_row("pointer", f"{pointer.get('before')} (gen {pointer.get('generation_before')}) -> "
                                f"{pointer.get('after')} (gen {pointer.get('generation_after')})")
        catalog = report.get("catalog") or {}
        head.add_row("catalog age (metadata RPO)", f"{catalog.get('age_seconds')} s")
        if catalog.get("fallback"):
            head.add_row("catalog fallback", f"used {catalog.get('snapshot')}: {catalog['fallback'].get('reason')}")
        if catalog.get("missing"):
            head.add_row("catalog", str(catalog["missing"]))
        head.add_row("jobs", "interrupted {interrupted}, resubmitted {resubmitted}, already present "
                             "{already_present}, failed {failed}".format(**{k: jobs.get(k) for k in (
                                 "interrupted", "resubmitted", "already_present", "failed")}))
        head.add_row("durations", ", ".join(f"{k} {v}" for k, v in durations.items()))
        head.add_row("history", f"{report.get('history', {}).get('episodes')} episodes, "
                                f"{report.get('history', {}).get('events')} events")
        head.add_row("verification", ", ".join(f"{k}={v}" for k, v in verification.items()))
        self.console.print(head)
        kinds = Table(title="Artifacts")
        for col in ("kind", "expected", "recreated", "already present", "failed"):
            kinds.add_column(col, justify="right" if col != "kind" else "left")
        for kind, counts in (report.get("artifacts") or {}).items():
            kinds.add_row(kind, *(str(counts.get(k)) for k in ("expected", "recreated", "already_present", "failed")))
        self.console.print(kinds)
        self._activation(report.get("activation") or {})
        for error in (report.get("errors") or [])[:10]:
            self.console.print(f"  [yellow]![/] {error.get('where')}: {error.get('error')}")
        self._resume(report.get("resume"))

    def _resume(self, resume: dict[str, Any] | None) -> None:
        """The recover that completed the failover (drill --resume): what it found, what it wrote."""
        if not resume:
            return
        outcome = resume.get("outcome")
        table = Table(title=f"Resume (recover): [{'green' if outcome == 'succeeded' else 'red'}]{outcome}[/]",
                      show_header=False)
        table.add_column("what", style="bold")
        table.add_column("value")
        if resume.get("outcome_reason"):
            table.add_row("reason", str(resume["outcome_reason"]))
        completes = resume.get("completes") or {}
        if completes:
            table.add_row("completes", f"{completes.get('run')} ({completes.get('outcome')}), generation "
                                       f"{completes.get('generation')}")
        jobs = resume.get("jobs") or {}
        table.add_row("jobs", f"resubmitted {jobs.get('resubmitted')}, already present {jobs.get('already_present')}, "
                              f"failed {jobs.get('failed')} of {jobs.get('interrupted')}")
        table.add_row("artifacts", ", ".join(
            f"{kind} {c.get('recreated')}+{c.get('already_present')}/{c.get('expected')}"
            + (f" ({c['failed']} failed)" if c.get("failed") else "")
            for kind, c in (resume.get("artifacts") or {}).items() if c.get("expected")) or "-")
        pending = {k: c.get("pending") for k, c in (resume.get("activation") or {}).items() if c.get("pending")}
        table.add_row("activation", ", ".join(f"{k} {c.get('activated')}+{c.get('already_active')}/{c.get('expected')}"
                                              for k, c in (resume.get("activation") or {}).items())
                      + (f"; pending {pending}" if pending else "") or "-")
        self.console.print(table)
        for error in (resume.get("errors") or [])[:10]:
            self.console.print(f"  [yellow]![/] {error.get('where')}: {error.get('error')}")

    def _activation(self, activation: dict[str, Any]) -> None:
        """Scale, routes and schedules switched on after recreation (source: the hub failed over from)."""
        if not activation:
            return
        columns = ("expected", "activated", "already_active", "deferred", "pending", "failed", "source_disabled",
                   "source_pending")
        table = Table(title="Activation (scale, routes, schedules)")
        table.add_column("kind")
        for column in columns:
            table.add_column(column.replace("_", " "), justify="right")
        for kind, counts in activation.items():
            table.add_row(kind, *(str(counts.get(c)) for c in columns))
        self.console.print(table)
