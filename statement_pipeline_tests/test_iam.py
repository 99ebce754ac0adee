# Over 350 lines: the policies, their static rules and the calls they must allow are checked
# against each other here, from one set of fixtures.
"""IAM policies: static rules, bootstrap's calls covered exactly, and moto IAM enforcement.

Moto 5.2 enforces IAM only partly like AWS does, so the enforcement tests attach the real
policy plus a clearly separate "moto view" (see `moto_view`): it adds the names moto
checks instead of the real S3 actions, and repeats actions whose resource moto cannot
resolve with Resource "*". An action removed from the real policy disappears from the moto
view too, so action-level denials are real; resource scoping is enforced by moto for S3 and
for SQS calls that name a queue URL.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID

from statement_pipeline.aws.bootstrap import BootstrapAccessDenied, bootstrap
from statement_pipeline.rules.iam_lint import STATIC_RULES, lint_policy
from statement_pipeline.rules.iam_policy import (
    bootstrap_policy,
    iam_action,
    policy_json,
    run_policy,
)
from statement_pipeline.rules.names import Names
from statement_pipeline_tests.conftest import REGION

# moto's own default account (the server subprocess uses it too): resources it creates live
# there, so exact ARNs in the tests use it.
ACCOUNT = DEFAULT_ACCOUNT_ID

NAME_CASES = {
    "default": Names(),
    "custom": Names(bucket="acme-statements", prefix="incoming/csv", queue="acme", table="t1"),
    "root-prefix": Names(prefix=""),
}
LOCATION_CASES = {
    "unknown-account-region": {},
    "exact": {"account_id": ACCOUNT, "region": REGION},
    "china": {"account_id": ACCOUNT, "region": "cn-north-1", "partition": "aws-cn"},
}

# Written out independently of iam.py (AWS Service Authorization Reference): the IAM action
# that authorises each API operation bootstrap may call.
BOOTSTRAP_OPERATION_ACTIONS = {
    ("s3", "GetBucketLocation"): "s3:GetBucketLocation",
    ("s3", "CreateBucket"): "s3:CreateBucket",
    ("s3", "PutPublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "PutBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "PutBucketPolicy"): "s3:PutBucketPolicy",
    ("s3", "GetBucketPolicy"): "s3:GetBucketPolicy",
    ("sqs", "GetQueueUrl"): "sqs:GetQueueUrl",
    ("sqs", "CreateQueue"): "sqs:CreateQueue",
    ("sqs", "GetQueueAttributes"): "sqs:GetQueueAttributes",
    ("dynamodb", "DescribeTable"): "dynamodb:DescribeTable",
    ("dynamodb", "CreateTable"): "dynamodb:CreateTable",
    ("dynamodb", "UpdateContinuousBackups"): "dynamodb:UpdateContinuousBackups",
    ("dynamodb", "DescribeContinuousBackups"): "dynamodb:DescribeContinuousBackups",
}


def _actions(policy: dict[str, Any]) -> set[str]:
    return {action for statement in policy["Statement"] for action in statement["Action"]}


def _by_sid(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _allows(policy: dict[str, Any], action: str, resource: str) -> bool:
    """Whether an Allow statement grants `action` on `resource` (conditions not evaluated)."""
    return any(
        statement["Effect"] == "Allow"
        and action in _as_list(statement["Action"])
        and any(fnmatch.fnmatchcase(resource, r) for r in _as_list(statement["Resource"]))
        for statement in policy["Statement"]
    )


# --- static rules --------------------------------------------------------------------------


@pytest.mark.parametrize("location", LOCATION_CASES.values(), ids=LOCATION_CASES.keys())
@pytest.mark.parametrize("names", NAME_CASES.values(), ids=NAME_CASES.keys())
@pytest.mark.parametrize("make", [run_policy, bootstrap_policy])
def test_policies_pass_the_static_rules(make: Any, names: Names, location: dict[str, str]) -> None:
    policy = make(names, **location)

    assert lint_policy(policy) == []
    assert json.loads(policy_json(policy)) == policy
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in statement["Action"])
        assert "*" not in _as_list(statement["Resource"])


def test_run_policy_grants_exactly_what_a_run_does() -> None:
    policy = run_policy(Names(), account_id=ACCOUNT, region=REGION)
    statements = _by_sid(policy)

    assert {sid: sorted(s["Action"]) for sid, s in statements.items()} == {
        "ListStatementAndRejectsKeys": ["s3:ListBucket"],
        "ReadStatementFiles": ["s3:GetObject"],
        "WriteRejects": ["s3:DeleteObject", "s3:PutObject"],
        "UseRecordQueue": [
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
            "sqs:ReceiveMessage",
            "sqs:SendMessage",
        ],
        "UseDeadLetterQueue": [
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
            "sqs:ReceiveMessage",
            "sqs:SendMessage",
        ],
        "WriteStatementTable": [
            "dynamodb:BatchWriteItem",
            "dynamodb:DescribeTable",
            "dynamodb:Query",
        ],
    }
    assert {sid: s["Resource"] for sid, s in statements.items()} == {
        "ListStatementAndRejectsKeys": "arn:aws:s3:::statements",
        "ReadStatementFiles": "arn:aws:s3:::statements/statements/*",
        "WriteRejects": "arn:aws:s3:::statements/rejects/*",
        "UseRecordQueue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:statement-records",
        "UseDeadLetterQueue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:statement-records-dlq",
        "WriteStatementTable": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/statements",
    }
    assert statements["ListStatementAndRejectsKeys"]["Condition"] == {
        "StringLike": {"s3:prefix": ["rejects/*", "statements/*"]}
    }
    assert [sid for sid, s in statements.items() if "Condition" in s] == [
        "ListStatementAndRejectsKeys"
    ]


def test_run_policy_without_account_and_region_wildcards_only_those_segments() -> None:
    statements = _by_sid(run_policy(Names(queue="q1", table="t1")))

    assert statements["UseRecordQueue"]["Resource"] == "arn:aws:sqs:*:*:q1"
    assert statements["UseDeadLetterQueue"]["Resource"] == "arn:aws:sqs:*:*:q1-dlq"
    assert statements["WriteStatementTable"]["Resource"] == "arn:aws:dynamodb:*:*:table/t1"


def test_run_policy_with_custom_and_root_prefix() -> None:
    custom = _by_sid(run_policy(Names(bucket="acme-in", prefix="incoming/csv")))
    assert custom["ReadStatementFiles"]["Resource"] == "arn:aws:s3:::acme-in/incoming/csv/*"
    assert custom["ListStatementAndRejectsKeys"]["Condition"] == {
        "StringLike": {"s3:prefix": ["incoming/csv/*", "rejects/*"]}
    }

    root = _by_sid(run_policy(Names(prefix="")))
    # Months at the bucket root: every object is a potential statement file, and listing
    # cannot be narrowed (a "*" s3:prefix condition would only break prefix-less lists).
    assert root["ReadStatementFiles"]["Resource"] == "arn:aws:s3:::statements/*"
    assert "Condition" not in root["ListStatementAndRejectsKeys"]
    # Writes stay confined to rejects/ even then.
    assert root["WriteRejects"]["Resource"] == "arn:aws:s3:::statements/rejects/*"


def test_bootstrap_policy_is_scoped_to_the_deployment() -> None:
    statements = _by_sid(bootstrap_policy(Names(), account_id=ACCOUNT, region=REGION))

    assert statements["CreateStatementBucket"]["Resource"] == "arn:aws:s3:::statements"
    assert statements["CreateQueues"]["Resource"] == [
        f"arn:aws:sqs:{REGION}:{ACCOUNT}:statement-records",
        f"arn:aws:sqs:{REGION}:{ACCOUNT}:statement-records-dlq",
    ]
    assert statements["CreateStatementTable"]["Resource"] == (
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/statements"
    )
    assert "sqs:SetQueueAttributes" not in _actions(bootstrap_policy(Names()))


@pytest.mark.parametrize(
    ("statement", "rule"),
    [
        ({"Action": ["s3:*"], "Resource": "arn:aws:s3:::b/rejects/*"}, "no-wildcard-actions"),
        ({"Action": ["sqs:Get*"], "Resource": "arn:aws:sqs:*:*:q"}, "no-wildcard-actions"),
        ({"NotAction": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/x"}, "no-wildcard-actions"),
        ({"Action": ["s3:GetObject"], "Resource": "*"}, "no-broad-resources"),
        ({"Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::*/x"}, "no-broad-resources"),
        ({"Action": ["sqs:SendMessage"], "Resource": "arn:aws:sqs:*:*:*"}, "no-broad-resources"),
        ({"Action": ["dynamodb:Query"], "NotResource": "arn:aws:s3:::b"}, "no-broad-resources"),
        ({"Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::b/*"}, "object-writes-only"),
        ({"Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::b/statements/*"}, "object-writes"),
        (
            {"Action": ["s3:DeleteObject"], "Resource": "arn:aws:s3:::b/x/rejects/*"},
            "object-writes",
        ),
    ],
)
def test_lint_catches_violations(statement: dict[str, Any], rule: str) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "Bad", "Effect": "Allow", **statement}],
    }

    problems = lint_policy(policy)

    assert problems
    assert any(problem.startswith(rule) for problem in problems), problems


def test_lint_checks_shape_and_lists_its_rules() -> None:
    assert {rule.name for rule in STATIC_RULES} == {
        "shape",
        "no-wildcard-actions",
        "no-broad-resources",
        "object-writes-only-to-rejects",
        "alerts-publish-to-one-topic",
    }
    statement = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/x"}
    problems = lint_policy({"Version": "2008-10-17", "Statement": [statement, statement]})
    assert "shape: policy Version must be '2012-10-17'" in problems
    assert "shape: statement 0 has no Sid" in problems


def test_policy_json_is_indented() -> None:
    text = policy_json(run_policy(Names()))
    assert text.startswith('{\n  "Version": "2012-10-17",\n  "Statement": [\n')


def test_iam_action_maps_batch_and_renamed_operations() -> None:
    for (service, operation), action in BOOTSTRAP_OPERATION_ACTIONS.items():
        assert iam_action(service, operation) == action
    assert iam_action("sqs", "SendMessageBatch") == "sqs:SendMessage"
    assert iam_action("sqs", "DeleteMessageBatch") == "sqs:DeleteMessage"
    assert iam_action("s3", "HeadObject") == "s3:GetObject"
    assert iam_action("dynamodb", "BatchWriteItem") == "dynamodb:BatchWriteItem"
    with pytest.raises(ValueError, match="no known IAM action"):
        iam_action("s3", "PutBucketAcl")


def test_account_and_region_are_validated() -> None:
    with pytest.raises(ValueError, match="12 digits"):
        run_policy(Names(), account_id="12345")
    with pytest.raises(ValueError, match="region"):
        run_policy(Names(), region="*")


# --- bootstrap's calls versus bootstrap_policy ---------------------------------------------


def _record_calls(client: Any, calls: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Record every API operation `client` performs, with its parameters."""
    service = client.meta.service_model.service_name

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((service, model.name, dict(params)))

    client.meta.events.register("before-parameter-build", record)


def _resource_of(service: str, params: dict[str, Any]) -> str:
    if service == "s3":
        return f"arn:aws:s3:::{params['Bucket']}"
    if service == "sqs":
        name = params.get("QueueName") or params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{params['TableName']}"


@pytest.mark.parametrize("names", NAME_CASES.values(), ids=NAME_CASES.keys())
def test_bootstrap_policy_covers_exactly_the_calls_bootstrap_makes(aws: None, names: Names) -> None:
    calls: list[tuple[str, str, dict[str, Any]]] = []
    clients = {service: boto3.client(service) for service in ("s3", "sqs", "dynamodb")}
    for client in clients.values():
        _record_calls(client, calls)

    # First run creates everything, second run reads everything back: all code paths that
    # touch AWS (the TLS policy forced on: in-process moto talks HTTPS anyway).
    for _ in range(2):
        bootstrap(names, region=REGION, tls_only_policy=True, **clients)

    operations = {(service, operation) for service, operation, _ in calls}
    assert operations <= BOOTSTRAP_OPERATION_ACTIONS.keys(), "unmapped operation"
    used_actions = {BOOTSTRAP_OPERATION_ACTIONS[op] for op in operations}
    policy = bootstrap_policy(names, account_id=ACCOUNT, region=REGION)
    # Every action bootstrap needs is granted, and nothing it does not use.
    assert used_actions == _actions(policy)
    for service, operation, params in calls:
        action = BOOTSTRAP_OPERATION_ACTIONS[(service, operation)]
        resource = _resource_of(service, params)
        assert _allows(policy, action, resource), (operation, resource)


# --- IAM enforcement through the moto server -----------------------------------------------

# moto 5.2 authorises these operations under its own names instead of the IAM actions.
MOTO_ACTION_NAMES = {
    "s3:PutEncryptionConfiguration": "s3:CreateBucket",  # PUT ?encryption: bucket PUT default
    "s3:PutBucketPublicAccessBlock": "s3:CreateBucket",  # PUT ?publicAccessBlock: same
    "s3:GetEncryptionConfiguration": "s3:ListBucket",  # GET ?encryption: bucket GET default
    "s3:GetBucketPublicAccessBlock": "s3:ListBucket",  # GET ?publicAccessBlock: same
    # AWS authorises the batch calls with the single-message action; moto wants the batch
    # name, which is not an IAM action at all.
    "sqs:SendMessage": "sqs:SendMessageBatch",
    "sqs:DeleteMessage": "sqs:DeleteMessageBatch",
    "sqs:ChangeMessageVisibility": "sqs:ChangeMessageVisibilityBatch",
}
# moto checks these against Resource "*" only: SQS calls without a queue URL, SNS, all DynamoDB.
MOTO_UNSCOPED_ACTIONS = {"sqs:CreateQueue", "sqs:GetQueueUrl", "sns:Publish"}


def moto_view(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy as moto 5.2 needs to see it to grant the same actions (test-only)."""
    view = copy.deepcopy(policy)
    unscoped: set[str] = set()
    for statement in view["Statement"]:
        actions = set(statement["Action"])
        actions |= {MOTO_ACTION_NAMES[a] for a in actions if a in MOTO_ACTION_NAMES}
        statement["Action"] = sorted(actions)
        unscoped |= {a for a in actions if a in MOTO_UNSCOPED_ACTIONS or a.startswith("dynamodb:")}
    if unscoped:
        view["Statement"].append(
            {
                "Sid": "MotoCannotScope",
                "Effect": "Allow",
                "Action": sorted(unscoped),
                "Resource": "*",
            }
        )
    return view


def _set_free_calls(endpoint: str, count: str) -> str:
    """POST /moto-api/reset-auth: enforce IAM after `count` calls ("inf": never).

    Returns the previous setting. The body is the bare number; with a form content type the
    moto server would parse it away and answer 500, hence text/plain.
    """
    request = urllib.request.Request(  # noqa: S310 - the local moto server only
        f"{endpoint}/moto-api/reset-auth",
        data=count.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
        return str(json.loads(response.read())["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"])


@contextmanager
def iam_enforced(endpoint: str) -> Iterator[None]:
    """IAM enforcement on the session's moto server, restored afterwards whatever happens.

    `/moto-api/reset` (used by the moto_endpoint fixture) does not touch this setting, so a
    test that leaves it on would break every later test on the shared server.
    """
    previous = _set_free_calls(endpoint, "0")
    try:
        yield
    finally:
        _set_free_calls(endpoint, previous)


def create_policy_user(policy: dict[str, Any], user: str) -> tuple[str, str]:
    """Create an IAM user holding `policy` (as moto sees it); its access key id and secret."""
    iam = boto3.client("iam")
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="statement-pipeline",
        PolicyDocument=policy_json(moto_view(policy)),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def _user_clients(policy: dict[str, Any], user: str = "pipeline") -> dict[str, Any]:
    """Create an IAM user with `policy` (as moto sees it); clients signed with its key."""
    key_id, secret = create_policy_user(policy, user)
    credentials = {
        "aws_access_key_id": key_id,
        "aws_secret_access_key": secret,
        # The fixture's AWS_SESSION_TOKEN must not ride along with a user's key.
        "aws_session_token": None,
    }
    return {service: boto3.client(service, **credentials) for service in ("s3", "sqs", "dynamodb")}


def _denied(call: Any) -> str:
    """Run `call`, expect an access denial, return the error text."""
    with pytest.raises(ClientError) as excinfo:
        call()
    text = str(excinfo.value)
    # moto answers SQS/DynamoDB (JSON protocols) with an XML error botocore cannot parse:
    # botocore's code is then "403" and the real code, AccessDenied, sits in the message.
    assert "AccessDenied" in text, text
    return text


def test_enforcement_is_restored_after_the_block(moto_endpoint: str) -> None:
    sqs = boto3.client("sqs")
    with iam_enforced(moto_endpoint), pytest.raises(ClientError) as excinfo:
        # The fixture's credentials belong to no IAM user: refused while enforcing.
        sqs.list_queues()
    assert "InvalidClientTokenId" in str(excinfo.value)
    # Afterwards the shared server accepts anyone again.
    sqs.create_queue(QueueName="after-enforcement")


def test_bootstrap_succeeds_as_a_user_with_the_bootstrap_policy(moto_endpoint: str) -> None:
    policy = bootstrap_policy(Names(), account_id=ACCOUNT, region=REGION)
    clients = _user_clients(policy)

    with iam_enforced(moto_endpoint):
        first = bootstrap(Names(), region=REGION, tls_only_policy=True, **clients)
        second = bootstrap(Names(), region=REGION, tls_only_policy=True, **clients)

    assert first.created == [
        "bucket statements: created",
        "queue statement-records-dlq: created",
        "queue statement-records: created",
        "table statements: created",
    ]
    assert not first.has_drift
    assert len(second.ok) == 4
    assert not second.has_drift


def test_bootstrap_without_put_bucket_policy_fails_fast_naming_it(moto_endpoint: str) -> None:
    policy = bootstrap_policy(Names(), account_id=ACCOUNT, region=REGION)
    for statement in policy["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if a != "s3:PutBucketPolicy"]
    clients = _user_clients(policy)

    with iam_enforced(moto_endpoint), pytest.raises(BootstrapAccessDenied) as excinfo:
        bootstrap(Names(), region=REGION, tls_only_policy=True, **clients)

    assert excinfo.value.action == "s3:PutBucketPolicy"
    assert str(excinfo.value).startswith("AccessDenied: PutBucketPolicy on arn:aws:s3:::statements")
    assert "s3:PutBucketPolicy" in str(excinfo.value)
    # Fail fast: nothing after the bucket was attempted.
    assert "QueueUrls" not in boto3.client("sqs").list_queues()
    assert boto3.client("dynamodb").list_tables()["TableNames"] == []


@pytest.fixture
def deployed(moto_endpoint: str) -> dict[str, Any]:
    """Resources made by an unrestricted bootstrap, plus one statement file."""
    clients = {service: boto3.client(service) for service in ("s3", "sqs", "dynamodb")}
    bootstrap(Names(), region=REGION, **clients)
    clients["s3"].put_object(Bucket="statements", Key="statements/2026-10/a.csv", Body=b"x\n")
    return clients


def test_run_policy_allows_the_calls_a_run_makes(
    moto_endpoint: str, deployed: dict[str, Any]
) -> None:
    user = _user_clients(run_policy(Names(), account_id=ACCOUNT, region=REGION))
    s3, sqs, dynamodb = user["s3"], user["sqs"], user["dynamodb"]

    with iam_enforced(moto_endpoint):
        # S3: list months and rejects, read a statement file, write and remove a rejects file.
        listed = s3.list_objects_v2(Bucket="statements", Prefix="statements/")
        assert [o["Key"] for o in listed["Contents"]] == ["statements/2026-10/a.csv"]
        s3.list_objects_v2(Bucket="statements", Prefix="rejects/2026-10/")
        s3.head_object(Bucket="statements", Key="statements/2026-10/a.csv")
        assert s3.get_object(Bucket="statements", Key="statements/2026-10/a.csv")["Body"].read()
        rejects_key = "rejects/2026-10/a.rejects.csv"
        s3.put_object(Bucket="statements", Key=rejects_key, Body=b"line,reason\n")
        s3.delete_object(Bucket="statements", Key=rejects_key)

        # SQS: the record queue end to end, and the DLQ as the run and the check use it.
        queue = sqs.get_queue_url(QueueName="statement-records")["QueueUrl"]
        dlq = sqs.get_queue_url(QueueName="statement-records-dlq")["QueueUrl"]
        sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
        sqs.send_message_batch(QueueUrl=queue, Entries=[{"Id": "1", "MessageBody": "{}"}])
        (message,) = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)["Messages"]
        sqs.change_message_visibility(
            QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=60
        )
        sqs.delete_message_batch(
            QueueUrl=queue, Entries=[{"Id": "1", "ReceiptHandle": message["ReceiptHandle"]}]
        )
        sqs.send_message(QueueUrl=dlq, MessageBody="{}")
        sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
        peeked = sqs.receive_message(QueueUrl=dlq, VisibilityTimeout=0, WaitTimeSeconds=0)
        assert len(peeked["Messages"]) == 1

        # DynamoDB: describe, write a batch, read the month back.
        dynamodb.describe_table(TableName="statements")
        dynamodb.batch_write_item(
            RequestItems={
                "statements": [
                    {
                        "PutRequest": {
                            "Item": {"month_shard": {"S": "2026-10#07"}, "statement_id": {"S": "1"}}
                        }
                    }
                ]
            }
        )
        items = dynamodb.query(
            TableName="statements",
            KeyConditionExpression="#p = :p",
            ExpressionAttributeNames={"#p": "month_shard"},
            ExpressionAttributeValues={":p": {"S": "2026-10#07"}},
        )["Items"]
        assert len(items) == 1

        # ...and nothing beyond that.
        _denied(
            lambda: s3.put_object(Bucket="statements", Key="statements/2026-10/b.csv", Body=b"")
        )
        _denied(lambda: s3.delete_object(Bucket="statements", Key="statements/2026-10/a.csv"))
        dlq_message = peeked["Messages"][0]
        denial = _denied(
            lambda: sqs.delete_message(QueueUrl=dlq, ReceiptHandle=dlq_message["ReceiptHandle"])
        )
        assert "sqs:DeleteMessage" in denial
        _denied(lambda: sqs.purge_queue(QueueUrl=queue))
        _denied(lambda: dynamodb.delete_table(TableName="statements"))


def test_run_policy_without_batch_write_item_is_denied(
    moto_endpoint: str, deployed: dict[str, Any]
) -> None:
    policy = run_policy(Names(), account_id=ACCOUNT, region=REGION)
    for statement in policy["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if a != "dynamodb:BatchWriteItem"]
    dynamodb = _user_clients(policy)["dynamodb"]

    with iam_enforced(moto_endpoint):
        dynamodb.describe_table(TableName="statements")
        denial = _denied(
            lambda: dynamodb.batch_write_item(
                RequestItems={
                    "statements": [
                        {
                            "PutRequest": {
                                "Item": {
                                    "month_shard": {"S": "2026-10#00"},
                                    "statement_id": {"S": "1"},
                                }
                            }
                        }
                    ]
                }
            )
        )
    assert "dynamodb:BatchWriteItem" in denial
