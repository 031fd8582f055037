"""A run's report as a person reads it: Markdown, rendered from the report the run returns.

One renderer for every run (failover, failback, drill, dry run, whatever its outcome): what
happened and when, the time against the pair's RTO, the catalog's age against its RPO, counts per
kind, every failed item with its reason, the approval, and what to do next. Pure: the same report
gives the same text. Everything shown comes from the report (ids, counts, outcomes, reasons),
and every free text goes through ``scrub``: never a secret, never a spec.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from failover.domain.secrets import scrub

MAX_LISTED_ERRORS = 200
_JOB_COLUMNS = ("interrupted", "resubmitted", "already_present", "skipped", "failed")
_ARTIFACT_COLUMNS = ("expected", "recreated", "already_present", "failed")
_ACTIVATION_COLUMNS = ("expected", "activated", "already_active", "deferred", "pending", "failed")
_TIMELINE = (("outage_at", "outage: the active hub first seen failing"),
             ("detected_at", "detection decided to fail over"),
             ("started_at", "run started"),
             ("pointer_flipped_at", "pointer flipped"),
             ("completed_at", "run ended"))


def _text(value: Any, limit: int = 500) -> str:
    """Free text made safe for a Markdown table cell: scrubbed, one line, pipes escaped."""
    text = scrub(str(value)).replace("\r", " ").replace("\n", " ").replace("|", "\\|").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _code(value: Any) -> str:
    text = _text(value, 200).replace("`", "'")
    return f"`{text}`" if text else "-"


def _when(value: Any) -> str:
    if not value:
        return "-"
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
    except ValueError:
        return _text(value)


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min ({seconds:.0f} s)"
    return f"{seconds / 3600:.1f} h ({seconds / 60:.0f} min)"


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> list[str]:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _verdict(met: Any) -> str:
    return {True: "**met**", False: "**missed**"}.get(met, "not applicable")


def title(report: Mapping[str, Any]) -> str:
    what = "Failback" if report.get("trigger") == "failback" else "Failover"
    if report.get("dry_run"):
        what += " (dry run)"
    elif report.get("drill"):
        what += " (drill: pointer kept)"
    return f"{what} report: {report.get('pair')}: {str(report.get('outcome') or 'unknown').upper()}"


def render(report: Mapping[str, Any]) -> str:
    """The Markdown report of a finished run."""
    lines = [f"# {_text(title(report))}", ""]
    lines += _summary(report)
    lines += _objectives(report)
    lines += _timeline(report)
    lines += _counts(report)
    lines += _approval(report)
    lines += _failures(report)
    lines += _verification(report)
    lines += ["## What to do next", "", *(f"- {step}" for step in next_steps(report)), ""]
    return "\n".join(lines)


def _summary(report: Mapping[str, Any]) -> list[str]:
    pointer = report.get("pointer") or {}
    reason = report.get("outcome_reason")
    lines = [f"**Outcome: {_text(report.get('outcome'))}**" + (f": {_text(reason)}" if reason else ""), ""]
    rows = [("pair / mode", f"{_code(report.get('pair'))} / {_text(report.get('mode') or '-')}"),
            ("instance / run", f"{_code(report.get('instance_id'))} / {_code(report.get('run'))}"),
            ("trigger", f"{_text(report.get('trigger'))}, requested by {_text(report.get('requested_by') or '-')}"),
            ("reason given", _text(report.get("reason") or "-")),
            ("pointer", f"{_code(pointer.get('before'))} (generation {pointer.get('generation_before')}) → "
                        f"{_code(pointer.get('after'))} (generation {pointer.get('generation_after')})")]
    return [*lines, *_table(("", ""), rows), ""]


def _objectives(report: Mapping[str, Any]) -> list[str]:
    objectives = report.get("objectives") or {}
    rto, rpo = objectives.get("rto") or {}, objectives.get("rpo") or {}

    def target(minutes: Any) -> str:
        return f"{minutes} min" if minutes is not None else "not set"

    rows = [("RTO: outage (or start) to recovered", target(rto.get("objective_minutes")),
             _duration(rto.get("measured_s")), _verdict(rto.get("met"))),
            ("RPO: age of the catalog recovery used", target(rpo.get("objective_minutes")),
             _duration(rpo.get("measured_s")), _verdict(rpo.get("met")))]
    lines = ["## Objectives", "", *_table(("objective", "target", "measured", "result"), rows), ""]
    durations = report.get("durations") or {}
    parts = [f"{label} {_duration(durations.get(key))}" for label, key in
             (("detection", "detect_s"), ("flip", "flip_s"), ("recovery", "recover_s"), ("total", "total_s"))
             if durations.get(key) is not None]
    if parts:
        lines += ["Durations: " + ", ".join(parts) + ".", ""]
    return lines


def _timeline(report: Mapping[str, Any]) -> list[str]:
    timeline = report.get("timeline") or {}
    events = [(timeline.get(key), label) for key, label in _TIMELINE if timeline.get(key)]
    for stage in report.get("stages") or []:
        if stage.get("started_at"):
            events.append((stage["started_at"], f"stage `{_text(stage.get('stage'))}` began"))
    catalog = report.get("catalog") or {}
    if catalog.get("taken_at"):
        events.append((catalog["taken_at"], f"catalog taken (snapshot {_code(catalog.get('snapshot'))})"))
    events.sort(key=lambda e: str(e[0]))
    rows = [(_when(at), label) for at, label in events]
    return ["## Timeline", "", *_table(("time", "event"), rows), ""] if rows else []


def _counts(report: Mapping[str, Any]) -> list[str]:
    lines = ["## Recovered, per kind", ""]
    jobs = report.get("jobs") or {}
    artifacts = report.get("artifacts") or {}
    if not jobs and not artifacts:
        return [*lines, "Nothing was counted: the run ended before recovery.", ""]
    if jobs:
        lines += _table(("jobs", *(c.replace("_", " ") for c in _JOB_COLUMNS)),
                        [("job", *(jobs.get(c, 0) for c in _JOB_COLUMNS))])
        lines.append("")
    if artifacts:
        lines += _table(("kind", *(c.replace("_", " ") for c in _ARTIFACT_COLUMNS)),
                        [(_text(kind), *(counts.get(c, 0) for c in _ARTIFACT_COLUMNS))
                         for kind, counts in artifacts.items()])
        lines.append("")
    activation = report.get("activation") or {}
    if activation:  # endpoints, deployments, schedules switched on the target (scale, traffic, enabled)
        lines += ["Activation (scale, traffic, schedules) on the target:", ""]
        lines += _table(("kind", *(c.replace("_", " ") for c in _ACTIVATION_COLUMNS)),
                        [(_text(kind), *(counts.get(c, 0) for c in _ACTIVATION_COLUMNS))
                         for kind, counts in activation.items()])
        lines.append("")
    return lines


def _approval(report: Mapping[str, Any]) -> list[str]:
    approval = report.get("approval")
    if not approval:
        return ["## Approval", "", "Not required for this run.", ""]
    decided = f"**{_text(approval.get('decision'))}**"
    if approval.get("by"):
        decided += f" by {_text(approval['by'])}"
    if approval.get("at"):
        decided += f" at {_when(approval['at'])}"
    if approval.get("comment"):
        decided += f": {_text(approval['comment'])}"
    lines = ["## Approval", "", decided, ""]
    if approval.get("ignored_events"):
        lines += [f"{approval['ignored_events']} unverified approval event(s) were ignored (audited as "
                  "`approval_forged`).", ""]
    return lines


def _failures(report: Mapping[str, Any]) -> list[str]:
    errors = list(report.get("errors") or [])
    dropped = int(report.get("errors_dropped") or 0)
    if not errors:
        return ["## Failed items", "", "None.", ""]
    rows = []
    for error in errors[:MAX_LISTED_ERRORS]:
        where, _, item = str(error.get("where", "")).partition(":")
        rows.append((_code(where), _code(item) if item else "-", _text(error.get("error"))))
    lines = ["## Failed items", "", *_table(("where", "item", "reason"), rows), ""]
    more = dropped + max(0, len(errors) - MAX_LISTED_ERRORS)
    if more:
        lines += [f"{more} more not listed (the report keeps the first {len(errors)}); the counts above "
                  "include them.", ""]
    return lines


def _verification(report: Mapping[str, Any]) -> list[str]:
    verification = report.get("verification")
    if not isinstance(verification, Mapping):
        return []
    rows = [(_text(key), _text(value)) for key, value in verification.items()]
    return ["## Verification (drill)", "", *_table(("check", "value"), rows), ""]


def next_steps(report: Mapping[str, Any]) -> list[str]:
    """What the person reading should do now, from the outcome and the objectives."""
    pair = _text(report.get("pair"))
    outcome = report.get("outcome")
    reason = str(report.get("outcome_reason") or "")
    pointer = report.get("pointer") or {}
    moved = (pointer.get("generation_after") or 0) > (pointer.get("generation_before") or 0)
    steps: list[str] = []
    if report.get("dry_run"):
        steps.append("This was a dry run: nothing was written. Start the real failover with "
                     f"`hubfailover failover {pair} --reason ... --by ...` if it is needed.")
    elif report.get("drill"):
        steps.append("This was a drill: the pointer did not move. Compare the counts with what you expect; "
                     "resubmitted jobs in the secondary are tagged `hubfailover.source_job`.")
    recover = report.get("recover") or {}
    if recover.get("command"):  # the run says a `recover` completes its work (failed items, pending, re-asked)
        steps.append(f"Complete the recovery on the active hub, once the cause named for each failed item is "
                     f"fixed: `{_text(recover['command'])}` (or `{_text(recover.get('route'))}`). It never "
                     "flips, skips what is present and recreates or resubmits the rest.")
    elif outcome == "aborted":
        if "not ready" in reason:
            steps.append("Fix what the readiness check named (see Failed items), check "
                         f"`hubfailover status {pair}`, then start again: nothing was written.")
        elif "rejected" in reason or "approval" in reason:
            steps.append("Nothing changed. If the outage is real, start again and approve.")
        else:
            steps.append(f"Nothing was written. Read the reason above, check `hubfailover status {pair}`, "
                         "then start again if needed.")
    elif outcome == "failed":
        steps.append("Recover the items listed under Failed items on the active hub (fix the cause named for "
                     "each); the rest is in place.")
    if moved:
        steps.append(f"Clients following the pointer now use `{_text(pointer.get('after'))}`. Put connection "
                     "secrets back from Key Vault where connections were recreated.")
        steps.append(f"Acknowledge when the incident is handled, so automatic failover is armed again: "
                     f"`hubfailover ack {pair} --by NAME`.")
        steps.append(f"Fail back once the original primary is healthy: `hubfailover failback {pair} "
                     "--reason ... --by NAME`.")
    objectives = report.get("objectives") or {}
    if (objectives.get("rto") or {}).get("met") is False:
        steps.append("The RTO was missed: look at the slowest stage in the timeline (detection, approval, "
                     "recreation) and at the pair's policy (probe threshold, chunk size, pre-deployed kinds).")
    if (objectives.get("rpo") or {}).get("met") is False:
        steps.append("The catalog was older than the RPO: items created since it was taken were not recovered. "
                     "Check the catalog sync timer (CATALOG_SYNC_SCHEDULE) and its last run.")
    if not steps:
        steps.append("Nothing to do.")
    return steps
