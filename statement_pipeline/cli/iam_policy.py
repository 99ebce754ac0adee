"""`statement-pipeline iam-policy`: print the least-privilege IAM policy of a run (or bootstrap).

The names come from STATEMENT_BUCKET / STATEMENT_PREFIX / STATEMENT_QUEUE / STATEMENT_TABLE
and STATEMENT_ALERT_TOPIC_ARN, exactly as a run resolves them; no AWS call is made. The JSON
goes to stdout alone, so it can be piped into
`aws iam put-role-policy --policy-document file:///dev/stdin`; notes and problems go to stderr.
"""

import argparse
import os
import sys
from typing import Any

from statement_pipeline.rules.alerts import ENV_ALERT_TOPIC, topic_arn_setting
from statement_pipeline.rules.names import CapacitySettings, Names


def run(args: argparse.Namespace) -> int:
    from statement_pipeline.rules.iam_lint import lint_policy
    from statement_pipeline.rules.iam_policy import (
        bootstrap_policy,
        partition_for_region,
        policy_json,
        run_policy,
    )

    partition = partition_for_region(args.region) if args.region else "aws"
    try:
        if args.bootstrap:
            policy = bootstrap_policy(
                Names.from_env(),
                account_id=args.account_id,
                region=args.region,
                partition=partition,
            )
        else:
            # The alert sensor publishes from the daemon: the run role gets sns:Publish on the
            # topic when STATEMENT_ALERT_TOPIC_ARN is set, and nothing for SNS otherwise.
            policy = run_policy(
                Names.from_env(),
                account_id=args.account_id,
                region=args.region,
                partition=partition,
                alert_topic_arn=topic_arn_setting(os.environ.get(ENV_ALERT_TOPIC)),
                # UpdateTable and the tag calls only when STATEMENT_CAPACITY_POLICY changes
                # the table's capacity.
                capacity_policy=CapacitySettings.from_env(os.environ).policy,
                autoscaling=args.autoscaling,
            )
    except ValueError as exc:
        print(f"statement-pipeline iam-policy: {exc}", file=sys.stderr)
        return 2
    problems = lint_policy(policy)
    if problems:
        # Never print a policy that breaks the least-privilege rules: it would get attached.
        for problem in problems:
            print(f"policy violates {problem}", file=sys.stderr)
        return 1
    print(policy_json(policy))
    if args.account_id is None or args.region is None:
        print(
            "note: without --account-id and --region the SQS and DynamoDB ARNs use '*' for "
            "the missing segments; pass both for exact ARNs",
            file=sys.stderr,
        )
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "iam-policy",
        help="print the least-privilege IAM policy a run needs (--bootstrap: what bootstrap needs)",
        description=(
            "Print the IAM identity policy for the configured bucket, prefix, queues and "
            "table (STATEMENT_* variables) as JSON on stdout."
        ),
    )
    p.add_argument("--account-id", default=None, help="12-digit AWS account id for exact ARNs")
    p.add_argument("--region", default=None, help="AWS region for exact ARNs, e.g. eu-west-1")
    p.add_argument(
        "--bootstrap",
        action="store_true",
        help="print the broader policy `statement-pipeline bootstrap` needs instead",
    )
    p.add_argument(
        "--autoscaling",
        action="store_true",
        help=(
            "the table's capacity is a scalable target of Application Auto Scaling: a raise "
            "moves the target (DescribeScalableTargets, RegisterScalableTarget; not under keep)"
        ),
    )
    p.set_defaults(func=run)
