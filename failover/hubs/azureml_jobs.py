"""Azure ML jobs as the catalog keeps them, and the fields a resubmission must carry over.

A job's spec is the service's own REST body (``name`` and ``properties``), not azure-ai-ml's entity
serialised again: the entity drops the component id, the notification and autologger settings,
input descriptions, ``resources.properties`` (and, for AutoML, the environment). The SDK still
parses every body (``Job._from_rest_object``): a job it can't parse can't be resubmitted through
it either, so the adapter reports it by name as unreadable.

A resubmission is built by azure-ai-ml (it resolves compute names and asset references to ARM ids
and, for pipeline jobs, attaches the user's Azure ML token); then every field of the source body
that the SDK left out is put back, except those that belong to the old run (and a component id
naming the source's anonymous, per-submission component).
"""

from __future__ import annotations

import copy
from typing import Any

from failover.domain.model import JobRecord
from failover.hubs.hub_specs import is_anonymous_component

# Filled in by the service (no create request carries them).
READ_ONLY_FIELDS = frozenset({"status", "parameters"})
# Belong to the source run, or name things of the source workspace that the target doesn't have:
# the run's endpoints (Studio, TensorBoard), the job it was cloned from, its parent job.
OLD_RUN_FIELDS = frozenset({"services", "sourceJobId", "parentJobName"})


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


def compute_name(compute_id: Any) -> str | None:
    """``/subscriptions/…/computes/gpu-cluster`` (or ``gpu-cluster``) -> ``gpu-cluster``."""
    if not isinstance(compute_id, str) or not compute_id:
        return None
    marker = "/computes/"
    index = compute_id.lower().rfind(marker)
    return compute_id[index + len(marker):] if index >= 0 else compute_id


def job_record(body: dict[str, Any]) -> JobRecord:
    """The catalog's record of a job from the service's body, verbatim but for the envelope
    (``id``, ``type`` and ``systemData`` say nothing a resubmission needs and change every read)."""
    props = dict(body.get("properties") or {})
    spec = {"name": body["name"], "properties": props}
    return JobRecord(str(body["name"]), str(props.get("status") or "Unknown"), str(props.get("experimentName") or ""),
                     compute_name(props.get("computeId")), spec, _strings(props.get("tags")))


def carried_over(source_props: dict[str, Any]) -> dict[str, Any]:
    """What of the source body a resubmission keeps: not the service's fields, not the old run's,
    and no output locations (the service picks fresh ones)."""
    props = {k: copy.deepcopy(v) for k, v in source_props.items() if k not in READ_ONLY_FIELDS | OLD_RUN_FIELDS}
    if is_anonymous_component(props.get("componentId")):
        del props["componentId"]  # the source's inline component: azure-ai-ml sends the job's own
    for output in (props.get("outputs") or {}).values():
        if isinstance(output, dict):
            output.pop("uri", None)
    return props


def put_back(sent: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """``sent`` (what azure-ai-ml would send) with every key of ``source`` it lacks, at any depth.

    The SDK's values win where both have one: it resolved them for the target workspace.
    """
    merged = dict(sent)
    for key, value in source.items():
        mine = merged.get(key)
        if mine is None:
            merged[key] = copy.deepcopy(value)
        elif isinstance(mine, dict) and isinstance(value, dict):
            merged[key] = put_back(mine, value)
    return merged


def without_nulls(value: Any) -> Any:
    """azure-ai-ml's JSON encoder writes unset fields as null; the service's bodies omit them."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value
