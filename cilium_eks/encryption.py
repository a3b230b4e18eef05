"""Transparent encryption between nodes: the modes a stack may choose and the WireGuard facts the
values, the capacity of the network path and ``verify`` rely on.

Facts, with their sources:

* WireGuard is switched on by ``encryption.enabled: true`` with ``encryption.type: wireguard``; the
  chart's default type is ``ipsec`` (Cilium 1.20.0 chart ``values.yaml`` L1151-1158). The chart
  renders them as ``enable-wireguard`` in ``cilium-config`` (``templates/cilium-configmap.yaml``
  L765-766 of the v1.20.0 chart).
* Each agent creates its key pair and publishes the public key in its CiliumNode's
  ``network.cilium.io/wg-pub-key`` annotation; the tunnel listens on UDP 51871 on every node, and
  "all Cilium cluster nodes can reach each other via that port" must hold
  (Documentation/security/network/encryption-wireguard.rst; ``pkg/wireguard/types/types.go``
  ``ListenPort = 51871``, ``IfaceName = "cilium_wg0"``).
* Traffic between pods on different nodes is encrypted; traffic to the same node is not (by
  design). ``encryption.nodeEncryption`` (node-to-node, pod-to-node) is beta, and open bugs hit
  exactly this project's path: with it, the route MTU ignores the tunnel and host-originated
  packets get fragmented (cilium/cilium#37919, open), and on AWS jumbo frames (NIC 9001,
  ``cilium_wg0`` 8921) BPF fragment tracking drops the second fragments (cilium/cilium#46100,
  open). The program therefore leaves it off and says so in the values.
* MTU. Inside a VPC the primary ENI of a current instance type has MTU 9001 (jumbo frames). In ENI
  mode Cilium detects the base MTU from the primary ENI only (``pkg/mtu`` ``consideredDevices``:
  "Only the primary ENI always exists, and can be used for MTU auto detection"), keeps the pods'
  device MTU at it and subtracts WireGuard's overhead from the route MTU of every pod
  (``getRouteMTU``). The overhead is 95 bytes since cilium/cilium#45940 (merged May 2026, before
  1.20.0; it was 80, which let WireGuard's padding push packets past the device MTU): pods route
  at 9001 - 95 = 8906, so the encrypted packet (8906 + 95) still fits the 9001 of the ENI. The
  chart's ``MTU`` value would *override* that detection (``values.yaml`` L3210-3214), so the
  program does not set it.
"""

from __future__ import annotations

from typing import Literal, get_args

#: ``none``: pods talk in clear text between nodes (inside the VPC). ``wireguard``: Cilium's
#: transparent WireGuard encryption of every pod-to-pod packet that leaves a node.
Encryption = Literal["none", "wireguard"]
ENCRYPTION_MODES: tuple[str, ...] = get_args(Encryption)

#: The UDP port every node's WireGuard tunnel listens on (``pkg/wireguard/types`` ``ListenPort``).
WIREGUARD_PORT = 51871
#: The tunnel device on every node (``pkg/wireguard/types`` ``IfaceName``).
WIREGUARD_INTERFACE = "cilium_wg0"
#: The CiliumNode annotation carrying each node's public key.
WIREGUARD_PUBLIC_KEY_ANNOTATION = "network.cilium.io/wg-pub-key"
#: The encryption mode the agent reports for WireGuard (``api/v1/models`` ``EncryptionStatusModeWireguard``).
WIREGUARD_STATUS_MODE = "Wireguard"
#: What WireGuard adds to a packet, padding included (``pkg/mtu`` ``WireguardOverhead`` since cilium/cilium#45940).
WIREGUARD_OVERHEAD = 95
#: The MTU of an EC2 primary ENI inside a VPC (jumbo frames), from which Cilium derives the pods' MTU in ENI mode.
ENI_MTU = 9001


def pod_route_mtu(base_mtu: int = ENI_MTU) -> int:
    """The route MTU Cilium gives pods with WireGuard in native routing: the detected base MTU less the
    tunnel's overhead (the pods' device MTU stays at the base)."""
    return base_mtu - WIREGUARD_OVERHEAD
