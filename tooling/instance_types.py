#!/usr/bin/env python3
"""Generate the EC2 instance-type limits table the capacity model reads (cilium_eks/data/instance_types.json).

Standard library only (Python >= 3.11).

Sources
-------
* aws/amazon-vpc-cni-k8s  ``pkg/vpc/vpc_ip_resource_limit.go`` -- a generated Go
  map ``instanceNetworkingLimits`` giving, per instance type, ENILimit,
  IPv4Limit, DefaultNetworkCardIndex, NetworkCards, HypervisorType
  ("nitro" / "xen" / "unknown") and IsBareMetal.
* aws/karpenter-provider-aws ``website/content/en/docs/reference/instance-types.md``
  -- generated Markdown: one ``### `<type>``` section per instance type with a
  ``#### Labels`` table (``|karpenter.k8s.aws/instance-cpu|2|``,
  ``|kubernetes.io/arch|amd64|``, ``|karpenter.k8s.aws/instance-hypervisor|nitro|``...)
  and a ``#### Resources`` table.

Output
------
A JSON object ``{"header": {...}, "types": {...}}`` written by hand with one
instance type per line (sorted), so that diffs stay readable.  See NOTES.md.

Usage
-----
  # download both sources from raw.githubusercontent.com (pin refs to commits!)
  python -m tooling.instance_types --vpc-cni-ref <sha> --karpenter-ref <sha> \
      --output cilium_eks/data/instance_types.json
  # use local copies (refs are then only recorded in the header)
  python -m tooling.instance_types --vpc-cni-limits vpc_ip_resource_limit.go \
      --karpenter-instance-types instance-types.md --output instance_types.json
  # drift check: regenerate in memory, exit 1 if FILE differs
  python -m tooling.instance_types --vpc-cni-ref <sha> --karpenter-ref <sha> \
      --check cilium_eks/data/instance_types.json

Exit codes: 0 ok, 1 drift detected (--check), 2 usage / download / parse error.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import difflib
import hashlib
import json
import re
import shlex
import sys
import urllib.error
import urllib.request
from typing import Any

VPC_CNI_REPO = "aws/amazon-vpc-cni-k8s"
VPC_CNI_PATH = "pkg/vpc/vpc_ip_resource_limit.go"
VPC_CNI_DEFAULT_REF = "master"

KARPENTER_REPO = "aws/karpenter-provider-aws"
KARPENTER_PATH = "website/content/en/docs/reference/instance-types.md"
KARPENTER_DEFAULT_REF = "main"

RAW_URL = "https://raw.githubusercontent.com/{repo}/{ref}/{path}"

# Fields of one output row.  Rows are rendered with sorted keys.
FIELDS = (
    "architecture",      # karpenter: kubernetes.io/arch ("amd64" / "arm64")
    "bare_metal",        # vpc-cni IsBareMetal (fallback: karpenter instance-size ~ "metal")
    "enis",              # vpc-cni ENILimit (ENIs on the default network card)
    "enis_all_cards",    # sum of NetworkCards[].MaximumNetworkInterfaces
    "hypervisor",        # "nitro" / "xen" / "" (vpc-cni, fallback karpenter)
    "ipv4_per_eni",      # vpc-cni IPv4Limit
    "network_cards",     # len(vpc-cni NetworkCards)
    "vcpus",             # karpenter: karpenter.k8s.aws/instance-cpu
)


# --------------------------------------------------------------------------
# vpc-cni Go map parser
# --------------------------------------------------------------------------

_GO_MAP_START = re.compile(
    r"\binstanceNetworkingLimits\s*=\s*map\[string\]\s*\w+\s*\{")
_GO_ENTRY_KEY = re.compile(r'"([^"\\]+)"\s*:\s*(?:\w+\s*)?\{')
_GO_SCALAR = re.compile(
    r'\b(ENILimit|IPv4Limit|DefaultNetworkCardIndex|HypervisorType|IsBareMetal'
    r'|IsTrunkingCompatible|BranchInterface)\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+|true|false)')
_GO_CARDS = re.compile(r"\bNetworkCards\s*:\s*(?:\[\]\s*\w+\s*)?\{")
_GO_CARD_FIELD = re.compile(
    r"\b(MaximumNetworkInterfaces|NetworkCardIndex)\s*:\s*(-?\d+)")

_SNAKE = {
    "ENILimit": "eni_limit",
    "IPv4Limit": "ipv4_limit",
    "DefaultNetworkCardIndex": "default_network_card_index",
    "HypervisorType": "hypervisor_type",
    "IsBareMetal": "is_bare_metal",
    "IsTrunkingCompatible": "is_trunking_compatible",
    "BranchInterface": "branch_interface",
    "MaximumNetworkInterfaces": "maximum_network_interfaces",
    "NetworkCardIndex": "network_card_index",
}


def _strip_go_comments(text: str) -> str:
    """Remove // line comments (outside string literals) and /* */ blocks."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _matching_brace(text: str, open_idx: int) -> int:
    """Index of the '}' matching the '{' at open_idx (string-literal aware)."""
    depth = 0
    i, n = open_idx, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unbalanced braces starting at offset {open_idx}")


def _go_value(raw: str) -> Any:
    if raw.startswith('"'):
        return json.loads(raw)  # Go and JSON escapes agree for these strings
    if raw in ("true", "false"):
        return raw == "true"
    return int(raw)


def parse_vpc_cni_limits(text: str) -> dict[str, dict[str, Any]]:
    """Parse vpc_ip_resource_limit.go.

    Returns {instance_type: {"eni_limit": int, "ipv4_limit": int,
    "default_network_card_index": int, "hypervisor_type": str,
    "is_bare_metal": bool, "network_cards": [{"maximum_network_interfaces": int,
    "network_card_index": int}, ...]}} (plus "is_trunking_compatible" /
    "branch_interface" if a future/other version of the file carries them).
    Raises ValueError if the file does not look as expected.
    """
    text = _strip_go_comments(text)
    m = _GO_MAP_START.search(text)
    if not m:
        raise ValueError("instanceNetworkingLimits map not found")
    map_open = m.end() - 1
    map_close = _matching_brace(text, map_open)
    body_start, body_end = map_open + 1, map_close

    result: dict[str, dict[str, Any]] = {}
    pos = body_start
    while True:
        km = _GO_ENTRY_KEY.search(text, pos, body_end)
        if not km:
            rest = text[pos:body_end].strip().strip(",").strip()
            if rest:
                raise ValueError(f"unparsed text in map near: {rest[:80]!r}")
            break
        gap = text[pos:km.start()].strip().strip(",").strip()
        if gap:
            raise ValueError(f"unexpected text before {km.group(1)!r}: {gap[:80]!r}")
        name = km.group(1)
        open_idx = km.end() - 1
        close_idx = _matching_brace(text, open_idx)
        entry_text = text[open_idx + 1:close_idx]
        pos = close_idx + 1

        entry: dict[str, Any] = {}
        cards: list[dict[str, int]] = []
        cm = _GO_CARDS.search(entry_text)
        scalar_text = entry_text
        if cm:
            c_open = cm.end() - 1
            c_close = _matching_brace(entry_text, c_open)
            cards_text = entry_text[c_open + 1:c_close]
            scalar_text = entry_text[:cm.start()] + entry_text[c_close + 1:]
            cpos = 0
            while True:
                b = cards_text.find("{", cpos)
                if b < 0:
                    break
                e = _matching_brace(cards_text, b)
                card = {_SNAKE[k]: int(v)
                        for k, v in _GO_CARD_FIELD.findall(cards_text[b + 1:e])}
                cards.append(card)
                cpos = e + 1
        for key, raw in _GO_SCALAR.findall(scalar_text):
            entry[_SNAKE[key]] = _go_value(raw)
        entry["network_cards"] = cards
        for required in ("eni_limit", "ipv4_limit"):
            if required not in entry:
                raise ValueError(f"{name}: missing {required}")
        if name in result:
            raise ValueError(f"duplicate instance type {name!r}")
        result[name] = entry
    if not result:
        raise ValueError("no instance types parsed from vpc-cni limits file")
    return result


# --------------------------------------------------------------------------
# karpenter Markdown parser
# --------------------------------------------------------------------------

_MD_TYPE_HEADER = re.compile(r"^###\s+`([^`]+)`\s*$", re.M)
_MD_SUBHEADER = re.compile(r"^####\s+(\w+)\s*$", re.M)
_MD_ROW = re.compile(r"^\s*\|\s*([^|]*?)\s*\|\s*([^|]*?)\s*\|\s*$", re.M)
_MD_HEADING_ANY = re.compile(r"^#{1,3}\s", re.M)


def _parse_md_table(block: str) -> dict[str, str]:
    rows: dict[str, str] = {}
    for key, value in _MD_ROW.findall(block):
        if not key or set(key) <= set("-:") or key in ("Label", "Resource"):
            continue  # header / separator rows
        rows[key] = value
    return rows


def _int_or_none(value: str | None) -> int | None:
    if value is None or not re.fullmatch(r"\d+", value):
        return None
    return int(value)


def parse_karpenter_instance_types(text: str) -> dict[str, dict[str, Any]]:
    """Parse karpenter's website .../reference/instance-types.md.

    Returns {instance_type: {"vcpus": int|None, "architecture": str|None,
    "hypervisor": str|None, "instance_size": str|None,
    "labels": {label: value}, "resources": {resource: quantity}}}.
    Raises ValueError if no sections are found.
    """
    headers = list(_MD_TYPE_HEADER.finditer(text))
    result: dict[str, dict[str, Any]] = {}
    for i, h in enumerate(headers):
        name = h.group(1).strip()
        end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        section = text[h.end():end]
        # a "## <family> Family" heading ends the section body as well
        stop = _MD_HEADING_ANY.search(section)
        if stop:
            section = section[:stop.start()]
        tables: dict[str, dict[str, str]] = {}
        subs = list(_MD_SUBHEADER.finditer(section))
        for j, s in enumerate(subs):
            s_end = subs[j + 1].start() if j + 1 < len(subs) else len(section)
            tables[s.group(1).lower()] = _parse_md_table(section[s.end():s_end])
        labels = tables.get("labels", {})
        resources = tables.get("resources", {})
        declared = labels.get("node.kubernetes.io/instance-type")
        if declared is not None and declared != name:
            raise ValueError(f"section {name!r} declares instance-type {declared!r}")
        if name in result:
            raise ValueError(f"duplicate instance type {name!r}")
        result[name] = {
            "vcpus": _int_or_none(labels.get("karpenter.k8s.aws/instance-cpu")),
            "architecture": labels.get("kubernetes.io/arch") or None,
            "hypervisor": labels.get("karpenter.k8s.aws/instance-hypervisor"),
            "instance_size": labels.get("karpenter.k8s.aws/instance-size"),
            "labels": labels,
            "resources": resources,
        }
    if not result:
        raise ValueError("no instance-type sections parsed from karpenter markdown")
    return result


# --------------------------------------------------------------------------
# merge / compare
# --------------------------------------------------------------------------

def _norm_hypervisor(value: str | None) -> str | None:
    """'nitro' / 'xen' kept; 'unknown' and '' -> ''; None (absent) -> None."""
    if value is None:
        return None
    value = value.strip().lower()
    return "" if value in ("", "unknown") else value


def _size_is_metal(size: str | None) -> bool | None:
    if size is None:
        return None
    return size == "metal" or size.startswith("metal-")


def merge(vpc: dict[str, dict[str, Any]],
          karpenter: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Merge parsed sources into {type: row} (rows have exactly FIELDS keys).

    ENI/IP numbers come from vpc-cni only, vCPU/arch from karpenter only (null
    when the type is absent from that source).  hypervisor and bare_metal come
    from vpc-cni and fall back to karpenter when vpc-cni lacks the type (or has
    no hypervisor for it).
    """
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(set(vpc) | set(karpenter)):
        v = vpc.get(name)
        k = karpenter.get(name)
        row: dict[str, Any] = dict.fromkeys(FIELDS)
        if v is not None:
            cards = v.get("network_cards") or []
            row["enis"] = v["eni_limit"]
            row["ipv4_per_eni"] = v["ipv4_limit"]
            row["network_cards"] = len(cards) if cards else None
            row["enis_all_cards"] = (
                sum(c.get("maximum_network_interfaces", 0) for c in cards)
                if cards else None)
            row["hypervisor"] = _norm_hypervisor(v.get("hypervisor_type"))
            row["bare_metal"] = v.get("is_bare_metal")
        if k is not None:
            row["vcpus"] = k.get("vcpus")
            row["architecture"] = k.get("architecture")
            k_hv = _norm_hypervisor(k.get("hypervisor"))
            if (not row["hypervisor"] and k_hv) or row["hypervisor"] is None:
                row["hypervisor"] = k_hv
            if row["bare_metal"] is None:
                row["bare_metal"] = _size_is_metal(k.get("instance_size"))
        out[name] = row
    return out


def compare_sources(vpc: dict[str, dict[str, Any]],
                    karpenter: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Coverage and disagreement statistics between the two sources."""
    both = sorted(set(vpc) & set(karpenter))
    hv_disagree = []
    bm_disagree = []
    for name in both:
        v_hv = _norm_hypervisor(vpc[name].get("hypervisor_type"))
        k_hv = _norm_hypervisor(karpenter[name].get("hypervisor"))
        if v_hv != k_hv:
            hv_disagree.append((name, v_hv, k_hv))
        k_bm = _size_is_metal(karpenter[name].get("instance_size"))
        v_bm = vpc[name].get("is_bare_metal")
        if k_bm is not None and v_bm is not None and k_bm != v_bm:
            bm_disagree.append((name, v_bm, k_bm))
    return {
        "vpc_cni": len(vpc),
        "karpenter": len(karpenter),
        "both": len(both),
        "only_vpc_cni": sorted(set(vpc) - set(karpenter)),
        "only_karpenter": sorted(set(karpenter) - set(vpc)),
        "hypervisor_disagreements": hv_disagree,
        "bare_metal_disagreements": bm_disagree,
    }


# --------------------------------------------------------------------------
# render
# --------------------------------------------------------------------------

def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def render(types: dict[str, dict[str, Any]], header: dict[str, Any]) -> str:
    """Render the JSON document by hand: one source / one type per line.

    The result is valid JSON, keys sorted at every level, trailing newline.
    """
    lines = ["{", '  "header": {']
    hdr_items = sorted(header.items())
    for i, (key, value) in enumerate(hdr_items):
        comma = "," if i + 1 < len(hdr_items) else ""
        if key == "sources" and isinstance(value, list):
            lines.append(f"    {_dumps(key)}: [")
            for j, src in enumerate(value):
                c2 = "," if j + 1 < len(value) else ""
                lines.append(f"      {_dumps(src)}{c2}")
            lines.append(f"    ]{comma}")
        else:
            lines.append(f"    {_dumps(key)}: {_dumps(value)}{comma}")
    lines.append("  },")
    lines.append('  "types": {')
    names = sorted(types)
    for i, name in enumerate(names):
        comma = "," if i + 1 < len(names) else ""
        lines.append(f"    {_dumps(name)}: {_dumps(types[name])}{comma}")
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------

def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def download(repo: str, ref: str, path: str, timeout: float = 60.0) -> str:
    url = RAW_URL.format(repo=repo, ref=ref, path=path)
    req = urllib.request.Request(url, headers={"User-Agent": "cilium-eks tooling.instance_types"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.read().decode("utf-8")


def _read_local(path: str) -> str:
    # newline="" keeps the bytes as-is so sha256 matches the file on disk
    with open(path, encoding="utf-8", newline="") as fh:
        return fh.read()


def build_command(args: argparse.Namespace, prog: str) -> str:
    """Command line that regenerates the output.

    If a ref was given for a source, the download form (ref only) is recorded,
    since the sha256 in the header lets anyone verify a local copy matched it.
    Local paths are only recorded for sources without an explicit ref.
    """
    cmd = [*prog.split()]
    if args.vpc_cni_ref is None and args.vpc_cni_limits:
        cmd += ["--vpc-cni-limits", args.vpc_cni_limits]
    else:
        cmd += ["--vpc-cni-ref", args.vpc_cni_ref or VPC_CNI_DEFAULT_REF]
        if args.vpc_cni_path != VPC_CNI_PATH:
            cmd += ["--vpc-cni-path", args.vpc_cni_path]
    if args.karpenter_ref is None and args.karpenter_instance_types:
        cmd += ["--karpenter-instance-types", args.karpenter_instance_types]
    else:
        cmd += ["--karpenter-ref", args.karpenter_ref or KARPENTER_DEFAULT_REF]
        if args.karpenter_path != KARPENTER_PATH:
            cmd += ["--karpenter-path", args.karpenter_path]
    cmd += ["--output", args.output or args.check]
    return shlex.join(cmd)


def _load_source(local: str | None, repo: str, ref: str | None, default_ref: str,
                 path: str) -> tuple[str, dict[str, str]]:
    if local:
        text = _read_local(local)
        ref_out = ref if ref is not None else "local"
    else:
        ref_out = ref if ref is not None else default_ref
        text = download(repo, ref_out, path)
    return text, {"path": path, "ref": ref_out, "repo": repo, "sha256": sha256_text(text)}


def _print_summary(stats: dict[str, Any], n_types: int, file=sys.stderr) -> None:
    def lst(items: list, limit: int = 40) -> str:
        shown = ", ".join(str(x) for x in items[:limit])
        return shown + (f", ... (+{len(items) - limit})" if len(items) > limit else "")

    print(f"types written: {n_types} (vpc-cni {stats['vpc_cni']}, karpenter "
          f"{stats['karpenter']}, in both {stats['both']})", file=file)
    print(f"only in vpc-cni (vcpus/architecture null): {len(stats['only_vpc_cni'])}"
          + (f": {lst(stats['only_vpc_cni'])}" if stats["only_vpc_cni"] else ""), file=file)
    print(f"only in karpenter (enis/ipv4_per_eni/network_cards null): "
          f"{len(stats['only_karpenter'])}"
          + (f": {lst(stats['only_karpenter'])}" if stats["only_karpenter"] else ""), file=file)
    hv = stats["hypervisor_disagreements"]
    print(f"hypervisor disagreements (vpc-cni vs karpenter, normalised): {len(hv)}"
          + (f": {lst([f'{n}={a!r}/{b!r}' for n, a, b in hv])}" if hv else ""), file=file)
    bm = stats["bare_metal_disagreements"]
    print(f"bare-metal disagreements (IsBareMetal vs instance-size): {len(bm)}"
          + (f": {lst([f'{n}={a}/{b}' for n, a, b in bm])}" if bm else ""), file=file)


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    p = argparse.ArgumentParser(
        description="Generate an EC2 instance-type limits JSON table from "
                    "amazon-vpc-cni-k8s and karpenter-provider-aws sources.")
    p.add_argument("--vpc-cni-limits", metavar="FILE",
                   help=f"local copy of {VPC_CNI_PATH} (default: download)")
    p.add_argument("--vpc-cni-ref", default=None,
                   help=f"git ref (branch/tag/commit) of {VPC_CNI_REPO} to download, "
                        f"or to record for a local file (default: {VPC_CNI_DEFAULT_REF})")
    p.add_argument("--vpc-cni-path", default=VPC_CNI_PATH, help=argparse.SUPPRESS)
    p.add_argument("--karpenter-instance-types", metavar="FILE",
                   help="local copy of karpenter's instance-types.md (default: download)")
    p.add_argument("--karpenter-ref", default=None,
                   help=f"git ref of {KARPENTER_REPO} to download, or to record for a "
                        f"local file (default: {KARPENTER_DEFAULT_REF})")
    p.add_argument("--karpenter-path", default=KARPENTER_PATH,
                   help=f"path inside the karpenter repo (default: {KARPENTER_PATH}; "
                        "e.g. website/content/en/v1.14/reference/instance-types.md)")
    p.add_argument("--generated", metavar="DATE", default=None,
                   help="override the header 'generated' date (default: today, UTC)")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--output", metavar="FILE", help="write the JSON here ('-' = stdout)")
    mode.add_argument("--check", metavar="FILE",
                      help="regenerate in memory; exit 1 if FILE differs "
                           "(the header 'generated' and 'command' values are ignored)")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    args = p.parse_args(argv)
    prog = prog or "python -m tooling.instance_types"

    try:
        vpc_text, vpc_src = _load_source(args.vpc_cni_limits, VPC_CNI_REPO, args.vpc_cni_ref,
                                         VPC_CNI_DEFAULT_REF, args.vpc_cni_path)
        k_text, k_src = _load_source(args.karpenter_instance_types, KARPENTER_REPO,
                                     args.karpenter_ref, KARPENTER_DEFAULT_REF,
                                     args.karpenter_path)
    except (OSError, urllib.error.URLError) as exc:
        print(f"error: cannot read source: {exc}", file=sys.stderr)
        return 2
    try:
        vpc = parse_vpc_cni_limits(vpc_text)
        karp = parse_karpenter_instance_types(k_text)
    except ValueError as exc:
        print(f"error: parse failed: {exc}", file=sys.stderr)
        return 2

    types = merge(vpc, karp)
    header = {
        "command": build_command(args, prog),
        "generated": args.generated or _dt.datetime.now(_dt.UTC).date().isoformat(),
        "sources": [vpc_src, k_src],
    }
    if not args.quiet:
        _print_summary(compare_sources(vpc, karp), len(types))

    if args.check:
        try:
            existing = _read_local(args.check)
        except OSError as exc:
            print(f"error: cannot read {args.check}: {exc}", file=sys.stderr)
            return 1
        try:
            old_header = json.loads(existing).get("header", {})
            header["generated"] = old_header.get("generated", header["generated"])
            header["command"] = old_header.get("command", header["command"])
        except (ValueError, AttributeError):
            pass  # unparsable file: the text comparison below reports drift
        fresh = render(types, header)
        if fresh == existing:
            if not args.quiet:
                print(f"check: {args.check} is up to date", file=sys.stderr)
            return 0
        diff = list(difflib.unified_diff(existing.splitlines(), fresh.splitlines(),
                                         f"{args.check} (on disk)", "regenerated",
                                         n=0, lineterm=""))
        print(f"check: {args.check} differs from regenerated output "
              f"({sum(1 for d in diff if d[:1] in '+-') - 2} changed lines):", file=sys.stderr)
        for line in diff[:60]:
            print(line, file=sys.stderr)
        if len(diff) > 60:
            print(f"... ({len(diff) - 60} more diff lines)", file=sys.stderr)
        return 1

    doc = render(types, header)
    if args.output == "-":
        sys.stdout.write(doc)
    else:
        with open(args.output, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
