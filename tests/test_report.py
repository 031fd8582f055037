"""The report a person reads: rendered from real runs, stored beside the audit record, served by the API,
printed by `hubfailover report`, written by `hubfailover drill --report-md`."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from failover.domain.report_markdown import next_steps, render
from failover.domain.run import objectives
from failover.services import services
from failover.stores.reports import report_blob
from hubfailover.cli import main
from rehearsal.console import DrillConsole
from rehearsal.drill import run_drill
from rehearsal.scenario import DrillOptions
from replayhost.azurite import AzuriteEndpoints
from tests.serve_world import KEY, served

ROOT = Path(__file__).resolve().parent.parent
DRILL_KEYS = ("history", "verification", "catalog_sync", "options", "crash")  # what the drill adds to the output


def drill(azurite: AzuriteEndpoints, **overrides: Any) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    options = replace(DrillOptions(jobs=8, artifacts=14, seed=4, chunk_size=5, pair=f"r{tag}", primary=f"pri{tag}",
                                   secondary=f"sec{tag}"), **overrides)
    _, report = run_drill(options, DrillConsole(quiet=True), connection_string=azurite.connection_string)
    return report


def section(markdown: str, title: str) -> str:
    start = markdown.index(f"## {title}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start:end if end > 0 else None]


def test_a_successful_run_renders_timeline_objectives_counts_and_next_steps(azurite: AzuriteEndpoints) -> None:
    report = drill(azurite)
    assert report["outcome"] == "succeeded"
    markdown = render(report)
    assert markdown.startswith(f"# Failover report: {report['pair']}: SUCCEEDED\n")
    objectives_part = section(markdown, "Objectives")
    assert "| RTO: outage (or start) to recovered | 60 min |" in objectives_part
    assert objectives_part.count("**met**") == 2
    timeline = section(markdown, "Timeline")
    order = ["outage: the active hub", "detection decided", "run started", "stage `plan` began",
             "stage `readiness` began", "stage `flip` began", "pointer flipped", "stage `job_dependencies` began",
             "stage `resubmit_jobs` began", "stage `recreate_artifacts` began", "run ended"]  # jobs first
    positions = [timeline.index(event) for event in order]
    assert positions == sorted(positions)
    counts = section(markdown, "Recovered, per kind")
    jobs = report["jobs"]
    assert f"| job | {jobs['interrupted']} | {jobs['resubmitted']} | 0 | 0 | 0 |" in counts
    for kind, c in report["artifacts"].items():
        assert f"| {kind} | {c['expected']} | {c['recreated']} | {c['already_present']} | 0 |" in counts
    for kind, c in report["activation"].items():
        assert f"| {kind} | {c['expected']} | {c['activated']} | {c['already_active']} |" in counts
    assert section(markdown, "Failed items").strip().endswith("None.")
    assert "Not required for this run." in section(markdown, "Approval")
    assert f"`hubfailover ack {report['pair']} --by NAME`" in section(markdown, "What to do next")
    assert "## Verification (drill)" in markdown
    # the run's audit activity stored it beside the audit record, rendered from the orchestration's output
    stored = services().reports.read(report["pair"], report["run"])
    assert stored == render({k: v for k, v in report.items() if k not in DRILL_KEYS})
    [record] = services().audit.list(report["pair"], "failover")
    assert record.key == report["run"]


def test_an_aborted_run_names_each_reason_and_says_what_to_fix(azurite: AzuriteEndpoints) -> None:
    report = drill(azurite, unready_secondary=True)
    assert report["outcome"] == "aborted"
    markdown = render(report)
    failed = section(markdown, "Failed items")
    assert "| `readiness` | - | compute missing on" in failed
    assert report["objectives"]["rto"]["met"] is None  # nothing was failed over
    assert "| RTO: outage (or start) to recovered | 60 min | - | not applicable |" in markdown
    assert "Fix what the readiness check named" in section(markdown, "What to do next")
    assert "hubfailover ack" not in markdown  # the pointer did not move


def test_a_rejected_run_shows_the_decision(azurite: AzuriteEndpoints) -> None:
    report = drill(azurite, mode="hot-cold", approval="reject")
    markdown = render(report)
    approval = section(markdown, "Approval")
    assert "**reject** by drill-operator at " in approval and ": rehearsal" in approval
    assert "Nothing changed" in section(markdown, "What to do next")


def test_objectives_met_missed_or_not_applicable() -> None:
    plan = {"objectives": {"rto_minutes": 10, "rpo_minutes": 5}}
    assert objectives(plan, "succeeded", 599.0, 300.0) == {
        "rto": {"objective_minutes": 10, "measured_s": 599.0, "met": True},
        "rpo": {"objective_minutes": 5, "measured_s": 300.0, "met": True}}
    late = objectives(plan, "succeeded", 601.0, 301.0)
    assert (late["rto"]["met"], late["rpo"]["met"]) == (False, False)
    assert objectives(plan, "failed", 60.0, None)["rto"]["met"] is False  # recovery incomplete: missed
    assert objectives(plan, "aborted", 60.0, 1.0)["rto"] == {"objective_minutes": 10, "measured_s": None, "met": None}
    assert objectives({**plan, "noop": True}, "succeeded", 1.0, None)["rto"]["met"] is None
    assert objectives({}, "succeeded", 1.0, 1.0)["rto"]["met"] is None


def test_free_text_is_scrubbed_and_kept_on_one_table_row() -> None:
    report = {"pair": "p", "outcome": "failed", "outcome_reason": "1 item(s) could not be recovered",
              "pointer": {"before": "a", "after": "b", "generation_before": 1, "generation_after": 2},
              "errors": [{"where": "artifacts.connection:connection:blob:",
                          "error": "permanent: AccountKey=c2VjcmV0|x==;\nBearer abcdefgh.ijklmnop.qrst"}],
              "objectives": {"rto": {"objective_minutes": 1, "measured_s": 90.0, "met": False}, "rpo": {}}}
    markdown = render(report)
    assert "c2VjcmV0" not in markdown and "ijklmnop" not in markdown
    [row] = [line for line in section(markdown, "Failed items").splitlines() if "artifacts.connection" in line]
    assert "AccountKey=***" in row and "Bearer ***" in row
    steps = next_steps(report)
    assert any("RTO was missed" in s for s in steps) and any("Failed items" in s for s in steps)


def test_the_api_serves_the_report_and_the_cli_prints_it(azurite: AzuriteEndpoints, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    with served(azurite, mode="hot-cold") as s:
        route = f"/api/failovers/{s.instance_id}/report"
        code, body, _ = s.call("GET", route)
        assert code == 404 and body["field"] == "instance"  # never ran
        assert s.call("GET", "/api/failovers/failover-ghost/report")[0] == 404
        assert s.call("GET", route, key=None)[0] == 401
        assert s.call("POST", f"/api/pairs/{s.pair}/failover", {"reason": "outage", "requested_by": "dave"})[0] == 202
        s.wait_approval()
        code, body, _ = s.call("GET", route)
        assert code == 409 and f"/api/failovers/{s.instance_id}" in body["error"]  # our own status route only
        assert s.call("POST", f"/api/failovers/{s.instance_id}/reject", {"by": "erin", "comment": "blip"})[0] == 202
        done = s.wait_done()
        code, text, headers = s.call("GET", route)
        assert code == 200 and headers["Content-Type"].startswith("text/markdown")
        markdown = text.decode("utf-8") if isinstance(text, bytes) else text
        assert markdown == services().reports.read(s.pair, done["report"]["run"])
        assert "ABORTED" in markdown and "**reject** by" in markdown
        assert KEY not in markdown and s.server.system_key not in markdown

        monkeypatch.setenv("HUBFAILOVER_URL", s.url)
        monkeypatch.setenv("HUBFAILOVER_API_KEY", KEY)
        capsys.readouterr()
        assert main(["report", s.instance_id]) == 0
        assert capsys.readouterr().out.strip() == markdown.strip()  # not a terminal: the Markdown itself
        assert main(["report", "failover-ghost"]) == 1
        assert "404" in capsys.readouterr().err


def test_drill_report_md_writes_the_markdown(tmp_path: Path) -> None:
    target = tmp_path / "drill.md"
    proc = subprocess.run([sys.executable, "-m", "failover", "drill", "--jobs", "6", "--artifacts", "10",
                           "--report-md", str(target)], cwd=ROOT, text=True, capture_output=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    markdown = target.read_text(encoding="utf-8")
    for title in ("Objectives", "Timeline", "Recovered, per kind", "Failed items", "What to do next"):
        assert f"\n## {title}\n" in markdown
    assert "# Failover report: drill: SUCCEEDED" in markdown


def test_a_report_is_named_by_pair_and_run() -> None:
    run = f"failover-p@{datetime(2025, 1, 1, tzinfo=UTC).isoformat()}"
    assert report_blob("p", run) == f"p/{run}.md"
    for pair, bad in (("p", "a/b"), ("p/q", run), ("", run), ("p", "")):
        with pytest.raises(ValueError):
            report_blob(pair, bad)
