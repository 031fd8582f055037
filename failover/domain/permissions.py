"""What the orchestrator's identity must be allowed to do on a hub to recover into it, and the check.

Azure RBAC answers "what may the caller do at this scope" with one cheap authorized read (the
Permissions API: ``actions`` / ``notActions`` with ``*`` wildcards, per role assignment). An action is
allowed when some assignment's actions match it and none of that assignment's notActions do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from failover.domain.model import ArtifactKind

WORKSPACE = "Microsoft.MachineLearningServices/workspaces"
# The read every failover makes on its target (stage 2 lists its computes). Not ``workspaces/read``:
# the AzureML Data Scientist role grants ``workspaces/*/read``, which names what is in a workspace.
READ_COMPUTES = f"{WORKSPACE}/computes/read"
SUBMIT_JOBS = f"{WORKSPACE}/jobs/write"
# The ARM operation each kind's recreation performs (a PUT of a version, or of the resource).
WRITE_ACTION: dict[ArtifactKind, str] = {
    ArtifactKind.ENVIRONMENT: f"{WORKSPACE}/environments/versions/write",
    ArtifactKind.CODE: f"{WORKSPACE}/codes/versions/write",
    ArtifactKind.DATA: f"{WORKSPACE}/data/versions/write",
    ArtifactKind.COMPONENT: f"{WORKSPACE}/components/versions/write",
    ArtifactKind.MODEL: f"{WORKSPACE}/models/versions/write",
    ArtifactKind.CONNECTION: f"{WORKSPACE}/connections/write",
    ArtifactKind.ONLINE_ENDPOINT: f"{WORKSPACE}/onlineEndpoints/write",
    ArtifactKind.BATCH_ENDPOINT: f"{WORKSPACE}/batchEndpoints/write",
    ArtifactKind.ONLINE_DEPLOYMENT: f"{WORKSPACE}/onlineEndpoints/deployments/write",
    ArtifactKind.BATCH_DEPLOYMENT: f"{WORKSPACE}/batchEndpoints/deployments/write",
    ArtifactKind.SCHEDULE: f"{WORKSPACE}/schedules/write",
}


def recovery_actions(mode: str, kinds: Iterable[ArtifactKind]) -> list[str]:
    """What a failover of this mode does on its target: hot-hot only reads it (the flip is in DR storage)."""
    if mode == "hot-hot":
        return [READ_COMPUTES]
    return sorted({READ_COMPUTES, SUBMIT_JOBS, *(WRITE_ACTION[k] for k in kinds if k in WRITE_ACTION)})


@lru_cache(maxsize=256)
def _pattern(wildcard: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in wildcard.split("*")), re.IGNORECASE)


def _matches(patterns: Iterable[str], action: str) -> bool:
    return any(_pattern(p).fullmatch(action) for p in patterns)


def allowed(action: str, permissions: Sequence[Mapping[str, Any]]) -> bool:
    """Whether any assignment (an item of the Permissions API's ``value``) allows ``action``."""
    return any(_matches(p.get("actions") or [], action) and not _matches(p.get("notActions") or [], action)
               for p in permissions)


def missing(actions: Iterable[str], permissions: Sequence[Mapping[str, Any]]) -> list[str]:
    """The actions no assignment allows, in the order asked."""
    return [a for a in actions if not allowed(a, permissions)]
