"""Bootstrap's report, its errors and its guarded calls: what every resource step shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from statement_pipeline.rules.iam_policy import iam_action

# boto3 clients are generated at run time; without type stubs installed they are `Any`.
S3Client = Any
SQSClient = Any
DynamoDBClient = Any

TLS_POLICY_SID = "DenyInsecureTransport"
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


class BootstrapError(RuntimeError):
    """Bootstrap could not create or check a resource."""


class BootstrapAccessDenied(BootstrapError):
    """A call was denied: names the IAM action the caller lacks."""

    def __init__(self, action: str, operation: str, resource: str, detail: str) -> None:
        self.action = action
        self.operation = operation
        self.resource = resource
        # The service's own message (it may name the principal); one line, bounded.
        self.detail = " ".join(detail.split())[:300]
        super().__init__(
            f"AccessDenied: {operation} on {resource} was refused; the caller needs "
            f"IAM action {action} (see the bootstrap IAM policy). {self.detail}".strip()
        )


@dataclass
class BootstrapReport:
    """What bootstrap did, one human-readable line per resource or difference."""

    created: list[str] = field(default_factory=list)
    ok: list[str] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)
    # Things an operator should know that are neither drift nor a creation.
    notes: list[str] = field(default_factory=list)

    @property
    def has_drift(self) -> bool:
        """True when an existing resource differs from what bootstrap would create."""
        return bool(self.drift)

    def lines(self) -> list[str]:
        """Every line, prefixed with its kind, for printing."""
        return [
            *(f"created  {line}" for line in self.created),
            *(f"ok       {line}" for line in self.ok),
            *(f"DRIFT    {line}" for line in self.drift),
            *(f"note     {line}" for line in self.notes),
        ]


# --- helpers -------------------------------------------------------------------------------


def code_of(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def codes_of(err: ClientError) -> set[str]:
    """The error code, plus the query-protocol code SQS adds to its JSON errors."""
    error = err.response.get("Error", {})
    return {str(error.get("Code", "")), str(error.get("QueryErrorCode", ""))} - {""}


def is_access_denied(err: ClientError) -> bool:
    if code_of(err) in ACCESS_DENIED_CODES:
        return True
    # A bare 403 comes from S3 requests without a body (HEAD, a bucket-policy denial) and
    # from emulators whose error body botocore cannot parse (moto's XML errors on the JSON
    # SQS/DynamoDB APIs): a denial unless the text says the credentials themselves are bad.
    if code_of(err) != "403":
        return False
    message = str(err.response.get("Error", {}).get("Message") or "")
    return not any(
        bad in message for bad in ("InvalidClientTokenId", "SignatureDoesNotMatch", "Expired")
    )


def guarded_call(client: Any, method: str, resource: str, **kwargs: Any) -> dict[str, Any]:
    """Call `client.<method>(**kwargs)`; turn a denial into BootstrapAccessDenied."""
    try:
        return getattr(client, method)(**kwargs)
    except ClientError as err:
        if is_access_denied(err):
            operation = client.meta.method_to_api_mapping[method]
            service = client.meta.service_model.service_name
            raise BootstrapAccessDenied(
                action=iam_action(service, operation),
                operation=operation,
                resource=resource,
                detail=str(err.response.get("Error", {}).get("Message") or ""),
            ) from err
        raise


def is_plain_http(client: Any) -> bool:
    return str(client.meta.endpoint_url).lower().startswith("http://")


def tls_only_bucket_policy(bucket: str, partition: str = "aws") -> dict[str, Any]:
    """Bucket policy that denies every request not made over TLS."""
    bucket_arn = f"arn:{partition}:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": TLS_POLICY_SID,
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def denies_plain_http(policy: dict[str, Any], bucket_arn: str) -> bool:
    """True if some statement denies all S3 actions on bucket and objects without TLS."""

    def as_list(value: Any) -> list[Any]:
        return value if isinstance(value, list) else [value]

    for statement in as_list(policy.get("Statement", [])):
        if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
            continue
        principal = statement.get("Principal")
        if principal not in ("*", {"AWS": "*"}):
            continue
        if not {"s3:*", "*"} & set(as_list(statement.get("Action", []))):
            continue
        resources = set(as_list(statement.get("Resource", [])))
        if not ({bucket_arn, "*"} & resources and {f"{bucket_arn}/*", "*"} & resources):
            continue
        condition = statement.get("Condition", {})
        secure = condition.get("Bool", {}).get("aws:SecureTransport")
        if [str(v).lower() for v in as_list(secure)] == ["false"]:
            return True
    return False


def record_drift(report: BootstrapReport, label: str, differences: list[str]) -> None:
    if differences:
        report.drift.extend(f"{label}: {d} (left unchanged)" for d in differences)
    else:
        report.ok.append(f"{label}: ok")
