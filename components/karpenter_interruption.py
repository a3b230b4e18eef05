"""KarpenterInterruption: the SQS queue Karpenter reads EC2 interruption events from, and the
EventBridge rules that feed it.

Karpenter drains a node ahead of a spot interruption, a scheduled maintenance, a stop or a
termination only when it hears of it (``settings.interruptionQueue``; "Interruption handling is
disabled if not specified", chart ``values.yaml`` 206-209). The queue, its policy and the five rules
are the reference template's (``cloudformation.yaml`` 381-464 at aws/karpenter-provider-aws
v1.14.1, facts in ``cilium_eks/karpenter.py``). One queue per cluster: Karpenter deletes the
messages of instances it does not own (aws/karpenter-provider-aws#2834).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from cilium_eks.karpenter import INTERRUPTION_EVENTS, QUEUE_RETENTION_SECONDS, event_pattern, queue_policy

TYPE_TOKEN = "cilium-eks:components:KarpenterInterruption"
#: The reference template's target id (``cloudformation.yaml`` 419).
TARGET_ID = "KarpenterInterruptionQueueTarget"


@dataclass(frozen=True)
class KarpenterInterruptionArgs:
    """Inputs of :class:`KarpenterInterruption`. ``queue_name`` (at most 80 characters) also prefixes the
    rule names, which EventBridge caps at 64: keep it under 43. ``tags`` defaults to none."""

    queue_name: str
    tags: Mapping[str, str] = field(default_factory=dict)


class KarpenterInterruption(pulumi.ComponentResource):
    queue: aws.sqs.Queue
    queue_name: pulumi.Output[str]
    queue_arn: pulumi.Output[str]
    rules: list[aws.cloudwatch.EventRule]
    targets: list[aws.cloudwatch.EventTarget]

    def __init__(self, name: str, args: KarpenterInterruptionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        longest = max(len(k) for k in INTERRUPTION_EVENTS)
        if len(args.queue_name) + 1 + longest > 64:
            raise ValueError(f"queue name {args.queue_name!r} makes EventBridge rule names longer than 64 characters")
        tags = dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)
        self.queue = aws.sqs.Queue(
            f"{name}-queue",
            name=args.queue_name,
            message_retention_seconds=QUEUE_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            tags=tags,
            opts=child,
        )
        policy = aws.sqs.QueuePolicy(
            f"{name}-queue-policy",
            queue_url=self.queue.url,
            policy=self.queue.arn.apply(lambda arn: json.dumps(queue_policy(arn))),
            opts=child,
        )
        self.rules, self.targets = [], []
        for kind in INTERRUPTION_EVENTS:
            rule = aws.cloudwatch.EventRule(
                f"{name}-{kind}",
                name=f"{args.queue_name}-{kind}",
                description=f"{INTERRUPTION_EVENTS[kind][1]} events for Karpenter ({args.queue_name})",
                event_pattern=json.dumps(event_pattern(kind)),
                tags=tags,
                opts=child,
            )
            self.rules.append(rule)
            self.targets.append(aws.cloudwatch.EventTarget(
                f"{name}-{kind}-target",
                rule=rule.name,
                arn=self.queue.arn,
                target_id=TARGET_ID,
                # Events reach the queue only once its policy lets EventBridge send; no value links the two.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
            ))
        self.queue_name = self.queue.name
        self.queue_arn = self.queue.arn
        self.register_outputs({"queue_name": self.queue_name, "queue_arn": self.queue_arn,
                               "rule_names": [r.name for r in self.rules]})
