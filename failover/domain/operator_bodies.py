"""Operator API request bodies: validated at the edge, every problem a 4xx naming its field.

Strict types (a bool is a JSON true/false, never "yes" or 1), no unknown keys, bounded text
free of control characters and lone surrogates (they would fail later, in storage, as a 500).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

MAX_BODY_BYTES = 64 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_IDENTITY_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class BadRequest(Exception):
    """A 4xx answer: what is wrong and where."""

    def __init__(self, status: int, error: str, field: str | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.field = status, error, field

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "field": self.field}


def _clean(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains an unpaired surrogate") from None
    if _CONTROL.search(value):
        raise ValueError("contains control characters")
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


def _identity(value: str) -> str:
    if _IDENTITY_CONTROL.search(value):
        raise ValueError("contains control characters")
    return value


def clean_name(value: str) -> str:
    """A name from a header, held to the body's rules for a name. Raises ValueError."""
    return _identity(_clean(value))[:200]


Text = Annotated[str, AfterValidator(_clean)]
Reason = Annotated[Text, Field(max_length=500)]
Identity = Annotated[Text, AfterValidator(_identity), Field(max_length=200)]
Comment = Annotated[str, AfterValidator(lambda v: _clean(v) if v else v), Field(max_length=1000)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class FailoverBody(_Body):
    reason: Reason
    requested_by: Identity | None = None
    dry_run: bool = False
    drill: bool = False
    force: bool = False
    require_approval: bool = False
    target: Annotated[Text, Field(max_length=100)] | None = None


class FailbackBody(_Body):
    reason: Reason
    requested_by: Identity | None = None


class RecoverBody(_Body):
    """Complete the pair's last failover on the active hub. ``reason`` defaults to saying which run it completes."""

    reason: Reason | None = None
    requested_by: Identity | None = None
    dry_run: bool = False


class DecisionBody(_Body):
    """approve / reject. ``run`` (optional) pins the run decided for: another run is refused."""

    by: Identity | None = None
    comment: Comment = ""
    run: Annotated[Text, Field(max_length=200)] | None = None


class AcknowledgeBody(_Body):
    by: Identity | None = None
    comment: Comment = ""


B = TypeVar("B", bound=_Body)


def parse_body(raw: bytes, model: type[B]) -> B:
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(413, f"request body is larger than {MAX_BODY_BYTES} bytes", "body")
    try:
        data = json.loads(raw) if raw.strip() else None
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested beyond reason
        raise BadRequest(400, "request body is not JSON", "body") from None
    if not isinstance(data, dict):
        raise BadRequest(400, "request body must be a JSON object", "body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadRequest(422, f"{field}: {_message(first)}", field) from None
    except RecursionError:
        raise BadRequest(400, "request body is nested too deeply", "body") from None


def _message(error: Mapping[str, Any]) -> str:
    kind, msg = error.get("type", ""), str(error.get("msg", "invalid"))
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required"
    return msg.removeprefix("Value error, ")
