"""Who acts: Easy Auth's principal (verified) or a function key holder's claim; approvers; decision records."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from failover.domain.approvals import read_signal, refusal
from failover.domain.config import Approvers
from failover.domain.identity import Actor, approver_refusal, identify
from failover.domain.operator_bodies import BadRequest
from failover.services import services
from failover.stores.decisions import AlreadyDecided
from replayhost.azurite import AzuriteEndpoints
from tests.durable_world import world_options
from tests.serve_world import principal

GROUP = "f08bbbea-b793-4a36-a5fc-136c18d8aa8f"
ROLE_URI = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"


def signed_in(encoded: str | None) -> Actor:
    headers = {"x-ms-client-principal-name": "carol@contoso.com", "x-ms-client-principal-id": "oid-1"}
    if encoded is not None:
        headers["x-ms-client-principal"] = encoded
    return identify(headers, "ignored", "by", authenticated=True)


def test_roles_and_groups_come_from_easy_auth_s_client_principal() -> None:
    # Microsoft's documented shape: role_typ names the role claim type; groups repeat one claim per group
    actor = signed_in(principal((ROLE_URI, "Failover.Approve"), ("groups", GROUP.upper()), ("groups", "g2"),
                                ("name", "Carol"), role_typ=ROLE_URI))
    assert actor.verified and actor.name == "carol@contoso.com" and actor.principal_id == "oid-1"
    assert actor.roles == {"Failover.Approve"} and actor.groups == {GROUP, "g2"}
    assert signed_in(None).roles == frozenset()  # no client principal: a name, no claims
    unpadded = principal(("roles", "Failover.Approve")).rstrip("=")
    assert signed_in(unpadded).roles == {"Failover.Approve"}


@pytest.mark.parametrize("encoded", ["%%%", base64.b64encode(b"[1, 2]").decode(), base64.b64encode(b"{").decode(),
                                     base64.b64encode(json.dumps({"claims": [{"typ": 1}]}).encode()).decode(),
                                     "A" * 40_000])
def test_a_malformed_client_principal_is_a_400_naming_the_header(encoded: str) -> None:
    with pytest.raises(BadRequest) as refused:
        signed_in(encoded)
    assert (refused.value.status, refused.value.field) == (400, "x-ms-client-principal")


def test_without_authentication_every_name_is_a_claim() -> None:
    actor = identify({"x-ms-client-principal-name": "ceo@contoso.com",
                      "x-ms-client-principal": principal(("roles", "Failover.Approve"))}, "alice", "by",
                     authenticated=False)
    assert (actor.name, actor.verified, actor.roles) == ("ceo@contoso.com", False, frozenset())
    assert actor.label == "function key holder (unverified: ceo@contoso.com)"
    assert identify({}, "alice", "by", authenticated=False).claimed_in == "by"
    assert len(Actor("x" * 200, False, "by").label) == 200  # fits requested_by and the audit's actor
    with pytest.raises(BadRequest) as missing:
        identify({}, None, "requested_by", authenticated=False)
    assert (missing.value.status, missing.value.field) == (422, "requested_by")


def test_approvers() -> None:
    approvers = Approvers(roles=["Failover.Approve"], groups=[GROUP])
    role = Actor("a", True, "h", roles=frozenset({"Failover.Approve"}))
    group = Actor("b", True, "h", groups=frozenset({GROUP}))
    nobody = Actor("c", True, "h", roles=frozenset({"Reader"}))
    claimed = Actor("d", False, "by", roles=frozenset({"Failover.Approve"}))
    assert approver_refusal(role, approvers, "p") is None and approver_refusal(group, approvers, "p") is None
    assert "not an approver" in str(approver_refusal(nobody, approvers, "p"))
    assert "not a function key" in str(approver_refusal(claimed, approvers, "p"))
    assert approver_refusal(claimed, None, "p") is None  # no restriction configured


def test_an_event_names_a_decision_at_most() -> None:
    good = "0123456789abcdef0123456789abcdef"
    assert read_signal({"decision_id": good, "by": "x"}).decision_id == good
    assert read_signal(json.dumps({"decision_id": good})).decision_id == good  # JSON text, as Azure may send
    for junk in ({"decision_id": good.upper()}, {"decision_id": 5}, {"decision": "approve", "by": "m"}, "approve",
                 None, [good]):
        assert read_signal(junk).decision_id is None, junk
    assert read_signal({"by": "m" * 500}).claimed["by"] == "m" * 200
    assert "no decision id" in str(refusal(None, instance_id="i", run="r", decision_id=None))


def test_the_decision_store_keeps_the_first_decision_of_a_run(azurite: AzuriteEndpoints) -> None:
    from rehearsal.scenario import prepare

    options = world_options()
    prepare(options, azurite.connection_string)
    store, now = services().decisions, datetime.now(UTC)
    run = f"failover-{options.pair}@2030-01-01T00:00:00+00:00"
    first = store.record(pair=options.pair, instance_id=f"failover-{options.pair}", run=run, decision="reject",
                         by="a", identity={"verified": False}, comment="", at=now)
    assert store.read(options.pair, run) == first
    assert refusal(first, instance_id=first.instance_id, run=run, decision_id=first.decision_id) is None
    assert "another run" in str(refusal(first, instance_id=first.instance_id, run=run + "x",
                                        decision_id=first.decision_id))
    assert "not the one" in str(refusal(first, instance_id=first.instance_id, run=run, decision_id="f" * 32))
    with pytest.raises(AlreadyDecided) as twice:
        store.record(pair=options.pair, instance_id=first.instance_id, run=run, decision="approve", by="b",
                     identity={}, comment="", at=now)
    assert twice.value.existing == first
    # withdrawing removes that record and no other
    stranger = first.model_copy(update={"decision_id": "f" * 32})
    assert store.withdraw(stranger) is False and store.read(options.pair, run) == first
    assert store.withdraw(first) is True and store.read(options.pair, run) is None
    second = store.record(pair=options.pair, instance_id=first.instance_id, run=run, decision="approve", by="b",
                          identity={}, comment="", at=now)
    assert second.decision_id != first.decision_id and store.read(options.pair, run) == second
