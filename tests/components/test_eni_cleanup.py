"""EniCleanup alone: a command that does nothing on create and, on destroy (after the nodes, before
the subnets), deletes the ENIs cilium-operator left `available` for this cluster only."""

from __future__ import annotations

import re

import pulumi_aws as aws
import pytest

from components import EniCleanup, EniCleanupArgs
from components.eni_cleanup import CLUSTER_TAG
from tests.components.harness import build, child, children, component
from tooling.mockengine import Graph, RecordedResource

TOKEN = "cilium-eks:components:EniCleanup"
COMMAND = "command:local:Command"
STAND_INS = {"subnet-a", "subnet-b"}


def build_cleanup() -> Graph:
    def program() -> None:
        subnets = [aws.ec2.Subnet(n, vpc_id="vpc-0123456789abcdef0", cidr_block=cidr)
                   for n, cidr in (("subnet-a", "10.20.0.0/24"), ("subnet-b", "10.20.1.0/24"))]
        EniCleanup("cleanup", EniCleanupArgs(cluster_name="blue", region="eu-west-1", subnets=subnets))

    return build(program)


def cleanup(graph: Graph) -> RecordedResource:
    return component(graph, TOKEN, stand_ins=STAND_INS, outputs={"cluster_tag"})


def command(graph: Graph) -> RecordedResource:
    return child(graph, cleanup(graph), COMMAND)


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_cleanup()


def test_the_component_declares_one_command_and_registers_the_tag_it_cleans(graph: Graph):
    assert [r.type for r in children(graph, cleanup(graph))] == [COMMAND]
    assert CLUSTER_TAG == "io.cilium/cluster-name"
    assert cleanup(graph).registered_outputs == {"cluster_tag": "io.cilium/cluster-name=blue"}


def test_create_does_nothing(graph: Graph):
    inputs = command(graph).inputs
    assert inputs["create"].strip() == "true"
    assert "update" not in inputs


def test_the_delete_script_gets_the_cluster_tag_and_region(graph: Graph):
    inputs = command(graph).inputs
    assert inputs["environment"] == {"CLUSTER_TAG": "io.cilium/cluster-name", "CLUSTER_NAME": "blue",
                                     "REGION": "eu-west-1"}
    assert inputs["interpreter"] == ["/bin/bash", "-c"]


def test_the_delete_script_deletes_only_this_clusters_available_enis(graph: Graph):
    script = command(graph).inputs["delete"]
    assert script.startswith("set -euo pipefail")
    assert 'filter="Name=tag:$CLUSTER_TAG,Values=$CLUSTER_NAME"' in script
    # Every describe filters on the cluster tag; only the `available` ones are listed for deletion.
    describes = re.findall(r"aws ec2 describe-network-interfaces[^\n]*\n[^\n]*", script)
    assert len(describes) == 2 and all('--filters "$filter"' in d for d in describes)
    [deletable] = [d for d in describes if "NetworkInterfaceId" in d]
    assert '"Name=status,Values=available"' in deletable
    assert "in-use" not in deletable and "attaching" not in deletable
    assert script.count("aws ec2 delete-network-interface ") == 1
    assert '--network-interface-id "$eni"' in script
    aws_calls = [line for line in script.splitlines() if "aws ec2 " in line]
    assert len(aws_calls) == 3 and all('--region "$REGION"' in line for line in aws_calls)


def test_the_delete_script_waits_for_attached_enis_then_gives_up(graph: Graph):
    script = command(graph).inputs["delete"]
    [busy] = [line for line in script.splitlines() if "busy=" in line]
    assert "describe-network-interfaces" in busy
    assert "Values=in-use,attaching,detaching" in script
    assert '[ "$busy" = "0" ] && exit 0' in script
    assert re.search(r"for attempt in \$\(seq 1 \d+\)", script) and "sleep " in script
    assert script.rstrip().endswith("exit 1"), "still attached after the retries: the destroy must fail loudly"


def test_the_command_waits_for_the_subnets(graph: Graph):
    # Created after them, so destroyed before them: no data links the two.
    cmd = command(graph)
    subnets = {graph.named(n).urn for n in STAND_INS}
    assert cmd.explicit_dependencies == subnets
    assert all(graph.waits_for(cmd.urn, s) for s in subnets)
