"""Kubernetes API errors and the `Status` bodies that carry them.

Handlers raise `ApiError`, and the server turns it into a `Status` response.
The code, reason and message layout match kube-apiserver's, so clients parse it
into their usual exception types. Validation failures are collected as
`FieldError` values and rendered in the Go style of the real server, for example
`spec.replicas: Invalid value: -1: must be greater than or equal to 0`.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

# Standard reasons for each HTTP code, as `metav1.StatusReason` names them.
REASONS_BY_CODE: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    """An error response of the Kubernetes API, rendered as a `Status` object."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or REASONS_BY_CODE.get(code, "Unknown")
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        """Return the `Status` body for this error."""
        return status_body(self.code, self.reason, self.message, self.details)


def status_body(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Build a failure `Status` object."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        body["details"] = details
    return body


def object_details(
    plural: str, group: str, name: str | None, uid: str | None = None
) -> dict[str, Any]:
    """Return `Status.details` naming one object the way kube-apiserver does.

    The real server puts the plural resource name, not the kind, into `kind`.
    """
    details: dict[str, Any] = {"kind": plural}
    if name is not None:
        details["name"] = name
    if group:
        details["group"] = group
    if uid is not None:
        details["uid"] = uid
    return details


def qualified_resource(plural: str, group: str) -> str:
    """Return `deployments.apps` for grouped resources and `configmaps` for core."""
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        404,
        f'{qualified_resource(plural, group)} "{name}" not found',
        details=object_details(plural, group, name),
    )


def namespace_not_found(namespace: str) -> ApiError:
    return ApiError(
        404,
        f'namespaces "{namespace}" not found',
        details={"name": namespace, "kind": "namespaces"},
    )


def already_exists(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        f'{qualified_resource(plural, group)} "{name}" already exists',
        reason="AlreadyExists",
        details=object_details(plural, group, name),
    )


def stale_resource_version(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        f"Operation cannot be fulfilled on {qualified_resource(plural, group)} "
        f'"{name}": the object has been modified; please apply your changes to '
        "the latest version and try again",
        details=object_details(plural, group, name),
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def resource_not_found() -> ApiError:
    """Return the 404 that kube-apiserver sends for an unknown resource path."""
    return ApiError(404, "the server could not find the requested resource", details={})


def method_not_allowed(verb: str, plural: str, group: str) -> ApiError:
    return ApiError(
        405,
        f"{verb} is not supported on resources of kind "
        f'"{qualified_resource(plural, group)}"',
        details=object_details(plural, group, None),
    )


@dataclasses.dataclass(frozen=True)
class FieldError:
    """One validation failure on one field path, as `field.Error` in Go."""

    kind: str  # "Invalid", "Required", "Forbidden", "NotSupported", "Duplicate"
    field: str
    detail: str = ""
    value: Any = None
    has_value: bool = False

    @classmethod
    def invalid(cls, field: str, value: Any, detail: str) -> FieldError:
        return cls("Invalid", field, detail, value, True)

    @classmethod
    def required(cls, field: str, detail: str = "") -> FieldError:
        return cls("Required", field, detail)

    @classmethod
    def forbidden(cls, field: str, detail: str) -> FieldError:
        return cls("Forbidden", field, detail)

    @classmethod
    def not_supported(cls, field: str, value: Any, allowed: list[str]) -> FieldError:
        quoted = ", ".join(f'"{item}"' for item in allowed)
        return cls("NotSupported", field, f"supported values: {quoted}", value, True)

    @classmethod
    def duplicate(cls, field: str, value: Any) -> FieldError:
        return cls("Duplicate", field, "", value, True)

    @property
    def cause_reason(self) -> str:
        return {
            "Invalid": "FieldValueInvalid",
            "Required": "FieldValueRequired",
            "Forbidden": "FieldValueForbidden",
            "NotSupported": "FieldValueNotSupported",
            "Duplicate": "FieldValueDuplicate",
        }[self.kind]

    def body(self) -> str:
        """Render the part after the field path, such as `Invalid value: 3: ...`."""
        label = {
            "Invalid": "Invalid value",
            "Required": "Required value",
            "Forbidden": "Forbidden",
            "NotSupported": "Unsupported value",
            "Duplicate": "Duplicate value",
        }[self.kind]
        text = label
        if self.has_value:
            text += f": {go_repr(self.value)}"
        if self.detail:
            text += f": {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


def invalid(kind: str, group: str, name: str, errors: list[FieldError]) -> ApiError:
    """Build the 422 `Invalid` error for a list of field errors on one object."""
    qualified_kind = f"{kind}.{group}" if group else kind
    if len(errors) == 1:
        summary = str(errors[0])
    else:
        summary = "[" + ", ".join(str(error) for error in errors) + "]"
    details = {
        "name": name,
        "kind": kind,
        "causes": [
            {
                "reason": error.cause_reason,
                "message": error.body(),
                "field": error.field,
            }
            for error in errors
        ],
    }
    if group:
        details["group"] = group
    return ApiError(
        422, f'{qualified_kind} "{name}" is invalid: {summary}', details=details
    )


def go_repr(value: Any) -> str:
    """Format a JSON value the way Go's `%#v` prints it in API error messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, dict):
        if all(isinstance(item, str) for item in value.values()):
            pairs = ", ".join(
                f"{json.dumps(key)}:{json.dumps(item)}"
                for key, item in sorted(value.items())
            )
            return f"map[string]string{{{pairs}}}"
        return json.dumps(value, sort_keys=True)
    if isinstance(value, list):
        if all(isinstance(item, str) for item in value):
            return "[]string{" + ", ".join(json.dumps(item) for item in value) + "}"
        return json.dumps(value)
    return repr(value)
