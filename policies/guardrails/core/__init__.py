"""The product core: what this project knows about Cilium on EKS, as pure Python.

Standard library only, no Pulumi SDK, no PyYAML: the program (``__main__.py``), the
component library (``components/``), the tooling (``tooling/``) and the policy pack all
read the same facts from here, and the pack carries a generated copy of this package
(``policies/guardrails/core/``, ``python -m tooling.vendor`` rewrites it) so it can be
published on its own. Modules import each other relatively for that reason.

Who owns what:

* ``cilium``: the chart, the options a stack may choose (``CiliumOptions``), what those
  options imply for the rest of the cluster, and the Helm values, built in one place.
* ``operator_iam``: the EC2 actions cilium-operator needs and its IRSA trust.
* ``aws_node``, ``hubble``, ``demo``, ``network``, ``eks``: the modes and facts of each
  part, as ``Literal`` types the components take and the config validator checks.
* ``ordering``: which resource must exist before which, and the one dependency walker.
* ``karpenter``: Karpenter's NodePools and EC2NodeClasses (max pods Cilium can address), its
  IAM, interruption events and Helm values.
* ``config``: the stack configuration: declared keys, frozen model, pure validator.
"""
