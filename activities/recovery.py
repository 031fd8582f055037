"""Stages 5 and 6, one chunk per call: recreate artifacts, resubmit interrupted jobs.

Inputs are ids (pair, hubs, snapshot name, chunk index); the items are read from the
catalog snapshot here, so history holds counts, not specs.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import azure.durable_functions as df

from failover.domain.model import ArtifactKind
from failover.recovery import chunk, compute_map_from, interrupted_jobs, sorted_artifacts
from failover.recovery import recreate_artifacts as recreate
from failover.recovery import resubmit_jobs as resubmit
from failover.services import services

bp = df.Blueprint()


@bp.activity_trigger(input_name="payload")
def recreate_artifacts(payload: dict[str, Any]) -> dict[str, Any]:
    svc = services()
    pair = svc.config.pair(payload["pair"])
    kind = ArtifactKind(payload["kind"])
    ordered = svc.chunk_items(payload["source"], payload["snapshot"], kind.value,
                              lambda snapshot: sorted_artifacts(snapshot.artifact_list(kind)))
    items = chunk(ordered, int(payload["chunk"]), int(payload["chunk_size"]))
    remember = partial(svc.journal.remember, payload["run"], f"{kind.value}-{payload['chunk']}")
    return {"kind": kind.value, **recreate(svc.hub(payload["target"]), items, dry_run=bool(payload["dry_run"]),
                                           concurrency=pair.policy.max_concurrency, remember=remember,
                                           secrets=svc.secrets(pair.name))}


@bp.activity_trigger(input_name="payload")
def resubmit_jobs(payload: dict[str, Any]) -> dict[str, Any]:
    svc = services()
    pair = svc.config.pair(payload["pair"])
    ordered = svc.chunk_items(payload["source"], payload["snapshot"], f"jobs:{pair.name}",
                              lambda snapshot: interrupted_jobs(snapshot.job_records(), pair))
    jobs = chunk(ordered, int(payload["chunk"]), int(payload["chunk_size"]))
    primary = svc.hub(payload["source"]) if payload.get("primary_reachable") else None
    return resubmit(svc.hub(payload["target"]), primary, jobs, generation=int(payload["generation"]),
                    compute_map=compute_map_from(pair, payload["source"]), dry_run=bool(payload["dry_run"]),
                    concurrency=pair.policy.max_concurrency, secrets=svc.secrets(pair.name),
                    remember=partial(svc.journal.remember, payload["run"], f"jobs-{payload['chunk']}"))
