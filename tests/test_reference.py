"""`python -m tooling.reference`: the download of the pinned upstream reference data (against a
local fake server: never the network), the lookup the tests use, and the eni.rst parser."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cilium_eks.operator_iam import ACTIONS_ALWAYS, ACTIONS_CONDITIONAL
from tests.conftest import reference_path, reference_unavailable
from tooling import reference as ref
from tooling.paths import PROJECT_DIR

#: The environment as pytest started: the real reference data (CI: ../shared), for the tests
#: that hold the download's layout and the program against it.
ENV_AT_START = dict(os.environ)
ALL_RELPATHS = [rel for artifact in ref.ARTIFACTS for rel in artifact.relpaths]
CHART = next(a for a in ref.ARTIFACTS if a.source == "cilium-charts")
KPS = next(a for a in ref.ARTIFACTS if a.source == "kube-prometheus-stack")
CNP = next(a for a in ref.ARTIFACTS if a.relpaths == ("cilium/crds/ciliumnetworkpolicies.yaml",))
ENI = next(a for a in ref.ARTIFACTS if a.relpaths == ("cilium/docs/eni.rst",))

# Modelled on Documentation/network/concepts/ipam/eni.rst of Cilium 1.20: the same heading
# styles (# over- and underlined, * over- and underlined, = and - underlined), the cache
# section's bullets of Describe* calls before it, and sections after it.
ENI_RST = """\
.. _ipam_eni:

#######
AWS ENI
#######

The AWS ENI allocator is specific to Cilium deployments running in the AWS cloud.

*************
Configuration
*************

Helm
----

.. code-block:: shell-session

   --set cni.customConf=true \\
   --set cni.configMap=cni-configuration

*******************
Operational Details
*******************

Cache of ENIs, Subnets, and VPCs
================================

The operator maintains a list of all EC2 ENIs, VPCs and subnets associated with
the AWS account in a cache. For this purpose, the operator performs the
following EC2 API operations:

 * ``DescribeNetworkInterfaces``
 * ``DescribeSubnets``
 * ``DescribeVpcs``
 * ``DescribeRouteTables``

IP Release
==========

* A host-prefix CIDR (a single secondary IP) is released with
  ``UnassignPrivateIpAddresses``.
* A delegated ``/28`` prefix is released as a whole with ``UnassignENIPrefixes``.

.. _ec2privileges:

*******************
Required Privileges
*******************

The following EC2 privileges are required by the Cilium operator in order to
perform ENI creation and IP allocation:

 * ``DeleteNetworkInterface``
 * ``DescribeInstanceTypes``
 * ``DescribeNetworkInterfaces``
 * ``DescribeSubnets``
 * ``DescribeVpcs``
 * ``DescribeRouteTables``
 * ``DescribeSecurityGroups``
 * ``CreateNetworkInterface``
 * ``AttachNetworkInterface``
 * ``ModifyNetworkInterfaceAttribute``
 * ``AssignPrivateIpAddresses``
 * ``CreateTags``
 * ``DescribeManagedPrefixLists``
 * ``GetManagedPrefixListEntries``

If ENI GC is enabled (which is the default), and ``--cluster-name`` and ``--eni-gc-tags`` are not set to custom values:

 * ``DescribeTags``

If releasing excess IPs is enabled:

 * ``UnassignPrivateIpAddresses``

If IPv6 is enabled (see :ref:`ipam_eni_ipv6`):

 * ``AssignIpv6Addresses``

If ``--instance-tags-filter`` is used:

 * ``DescribeInstances``


*******
Metrics
*******

The IPAM metrics are documented in the section :ref:`ipam_metrics`.

******************
Node Configuration
******************

 * ``eth1`` and up are managed by Cilium
"""

ENI_ALWAYS = (
    "ec2:DeleteNetworkInterface", "ec2:DescribeInstanceTypes", "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets", "ec2:DescribeVpcs", "ec2:DescribeRouteTables", "ec2:DescribeSecurityGroups",
    "ec2:CreateNetworkInterface", "ec2:AttachNetworkInterface", "ec2:ModifyNetworkInterfaceAttribute",
    "ec2:AssignPrivateIpAddresses", "ec2:CreateTags", "ec2:DescribeManagedPrefixLists",
    "ec2:GetManagedPrefixListEntries",
)
ENI_CONDITIONAL = {
    "If ENI GC is enabled (which is the default), and ``--cluster-name`` and ``--eni-gc-tags`` are not set to "
    "custom values:": ("ec2:DescribeTags",),
    "If releasing excess IPs is enabled:": ("ec2:UnassignPrivateIpAddresses",),
    "If IPv6 is enabled (see :ref:`ipam_eni_ipv6`):": ("ec2:AssignIpv6Addresses",),
    "If ``--instance-tags-filter`` is used:": ("ec2:DescribeInstances",),
}


# --------------------------------------------------------------------------- a fake upstream


def tgz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def chart_members() -> dict[str, bytes]:
    return {
        "cilium/Chart.yaml": f"apiVersion: v2\nname: cilium\nversion: {ref.CILIUM_VERSION}\n".encode(),
        "cilium/values.yaml": b"# fake cilium values\neni:\n  enabled: false\n",
        "cilium/values.schema.json": b'{"$schema": "http://json-schema.org/draft-07/schema#"}\n',
        "cilium/templates/validate.yaml": b"{{- if .Values.tunnel }}{{ fail \"tunnel was removed\" }}{{- end }}\n",
        "cilium/templates/cilium-agent/daemonset.yaml": b"kind: DaemonSet\n",
    }


def kps_members(grafana_version: str = ref.GRAFANA_CHART_VERSION) -> dict[str, bytes]:
    members = {
        "kube-prometheus-stack/Chart.yaml":
            f"apiVersion: v2\nname: kube-prometheus-stack\nversion: {ref.KUBE_PROMETHEUS_STACK_VERSION}\n".encode(),
        "kube-prometheus-stack/values.yaml": b"# fake kps values\ngrafana:\n  enabled: true\n",
        "kube-prometheus-stack/charts/grafana/Chart.yaml":
            f"apiVersion: v2\nname: grafana\nversion: {grafana_version}\n".encode(),
        "kube-prometheus-stack/charts/grafana/values.yaml": b"# fake grafana values\nadminUser: admin\n",
        "kube-prometheus-stack/charts/crds/crds/crd-alertmanagers.yaml": b"kind: CustomResourceDefinition\n",
    }
    for kind in ("prometheusrules", "servicemonitors", "podmonitors"):
        members[f"kube-prometheus-stack/charts/crds/crds/crd-{kind}.yaml"] = f"# fake crd {kind}\n".encode()
    return members


@dataclass
class FakeUpstream:
    """Serves every artifact under ``/<source>/<path>`` (what ``--mirror`` asks for)."""

    url: str
    routes: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    hold: threading.Event = field(default_factory=threading.Event)
    slow: set[str] = field(default_factory=set)

    def path(self, artifact: ref.Artifact) -> str:
        return f"/{artifact.source}/{artifact.path}"

    def artifact_url(self, artifact: ref.Artifact) -> str:
        return artifact.url(ref.base_urls(self.url))

    def expected(self) -> dict[str, bytes]:
        """What each reference relpath must contain after a download from this server."""
        out: dict[str, bytes] = {}
        for artifact in ref.ARTIFACTS:
            body = self.routes[self.path(artifact)]
            if artifact.is_archive:
                with tarfile.open(fileobj=io.BytesIO(body)) as tar:
                    for member, rel in artifact.files:
                        handle = tar.extractfile(member)
                        assert handle is not None
                        out[rel] = handle.read()
            else:
                out[artifact.relpaths[0]] = body
        return out


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fake.requests.append(self.path)
            if self.path in fake.slow:
                fake.hold.wait(10)
                return  # the client gave up long ago: no answer at all
            body = fake.routes.get(self.path)
            if body is None:
                self.send_error(404, "Not Found")
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake = FakeUpstream(f"http://127.0.0.1:{server.server_address[1]}")
    for artifact in ref.ARTIFACTS:
        if artifact is CHART:
            body = tgz(chart_members())
        elif artifact is KPS:
            body = tgz(kps_members())
        elif artifact is ENI:
            body = ENI_RST.encode()
        else:
            body = f"# fake upstream {artifact.path}\n".encode()
        fake.routes[fake.path(artifact)] = body
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.hold.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No reference data anywhere (the variables unset, the cache under tmp_path): returns the
    default cache directory."""
    for var in (ref.DIR_ENV, ref.LEGACY_CILIUM_DIR_ENV, ref.CACHE_ENV, ref.MIRROR_ENV):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "cilium-eks" / "reference"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = ref.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def download(capsys: pytest.CaptureFixture[str], upstream: FakeUpstream, dest: Path, *extra: str):
    return run(capsys, "download", "--dest", str(dest), "--mirror", upstream.url, "--timeout", "5", *extra)


# --------------------------------------------------------------------------- download


def test_every_file_lands_at_its_shared_layout_path_and_nothing_else(
        upstream: FakeUpstream, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "cache"
    code, _, err = download(capsys, upstream, dest)
    assert code == 0, err
    written = files_under(dest)
    assert written.pop(ref.MANIFEST)
    assert written == upstream.expected()
    assert set(written) == set(ALL_RELPATHS)
    # only the wanted members: not the chart's other templates nor its Chart.yaml
    assert not (dest / "cilium" / "Chart.yaml").exists()
    assert not list(dest.rglob("daemonset.yaml"))
    assert sorted(upstream.requests) == sorted(upstream.path(a) for a in ref.ARTIFACTS)
    assert f"{len(ALL_RELPATHS)} reference files in {dest}" in err


def test_the_manifest_records_url_member_size_and_a_matching_sha256(
        upstream: FakeUpstream, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "cache"
    assert download(capsys, upstream, dest)[0] == 0
    manifest = json.loads((dest / ref.MANIFEST).read_text())["files"]
    assert set(manifest) == set(ALL_RELPATHS)
    for artifact in ref.ARTIFACTS:
        for member, rel in artifact.files:
            record, data = manifest[rel], (dest / rel).read_bytes()
            assert record["sha256"] == hashlib.sha256(data).hexdigest(), rel
            assert record["size"] == len(data), rel
            assert record["url"] == upstream.artifact_url(artifact), rel
            assert record.get("member", "") == member, rel
            assert record["downloaded"].endswith("+00:00"), rel
    assert manifest["cilium/1.20.0/templates/validate.yaml"]["url"] == f"{upstream.url}/cilium-charts/cilium-1.20.0.tgz"


def test_a_rerun_changes_nothing_and_fetches_nothing(
        upstream: FakeUpstream, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "cache"
    assert download(capsys, upstream, dest)[0] == 0
    before = files_under(dest)
    mtimes = {p: p.stat().st_mtime_ns for p in dest.rglob("*")}
    upstream.requests.clear()

    code, _, err = download(capsys, upstream, dest)
    assert code == 0, err
    assert upstream.requests == []
    assert files_under(dest) == before
    assert {p: p.stat().st_mtime_ns for p in dest.rglob("*")} == mtimes
    assert f"0 fetched, {len(ALL_RELPATHS)} already up to date" in err
    assert not [p for p in dest.rglob("*.tmp")]


def test_a_changed_file_is_fetched_again_and_force_fetches_everything(
        upstream: FakeUpstream, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "cache"
    assert download(capsys, upstream, dest)[0] == 0
    before = files_under(dest)
    (dest / "cilium/1.20.0/values.schema.json").write_text("{}")
    upstream.requests.clear()
    assert download(capsys, upstream, dest)[0] == 0
    assert upstream.requests == [upstream.path(CHART)]
    after = files_under(dest)
    assert {k: v for k, v in after.items() if k != ref.MANIFEST} == \
        {k: v for k, v in before.items() if k != ref.MANIFEST}
    record = json.loads(after[ref.MANIFEST])["files"]["cilium/1.20.0/values.schema.json"]
    assert record["sha256"] == hashlib.sha256(after["cilium/1.20.0/values.schema.json"]).hexdigest()

    upstream.requests.clear()
    assert download(capsys, upstream, dest, "--force")[0] == 0
    assert sorted(upstream.requests) == sorted(upstream.path(a) for a in ref.ARTIFACTS)


def test_a_404_names_the_url_and_the_others_still_land(
        upstream: FakeUpstream, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    del upstream.routes[upstream.path(CNP)]
    dest = tmp_path / "cache"
    code, _, err = download(capsys, upstream, dest)
    assert code == 1
    failed_url = upstream.artifact_url(CNP)
    summary = err.split("download(s) failed", 1)[1]
    assert f"{failed_url}: HTTP 404" in summary
    assert "cilium/crds/ciliumnetworkpolicies.yaml" in summary
    assert summary.count("http://") == 1, "only the failed download is listed"
    written = files_under(dest)
    assert set(written) - {ref.MANIFEST} == set(ALL_RELPATHS) - {"cilium/crds/ciliumnetworkpolicies.yaml"}
    assert "cilium/crds/ciliumnetworkpolicies.yaml" not in json.loads(written[ref.MANIFEST])["files"]

    # once upstream answers, a re-run fetches only what is missing
    upstream.routes[upstream.path(CNP)] = b"# back\n"
    upstream.requests.clear()
    assert download(capsys, upstream, dest)[0] == 0
    assert upstream.requests == [upstream.path(CNP)]


@pytest.mark.parametrize("evil", ["../evil", "cilium/../../evil", "/tmp/evil-reference-member"])
def test_an_archive_with_a_member_outside_it_is_refused(
        upstream: FakeUpstream, tmp_path: Path, capsys: pytest.CaptureFixture[str], evil: str) -> None:
    upstream.routes[upstream.path(CHART)] = tgz({**chart_members(), evil: b"owned\n"})
    dest = tmp_path / "deep" / "cache"
    code, _, err = download(capsys, upstream, dest)
    assert code == 1
    assert f"{upstream.artifact_url(CHART)}: refusing the archive: member {evil!r}" in err
    assert not (dest / "cilium" / "1.20.0").exists(), "nothing of the refused archive is written"
    assert not [p for p in tmp_path.rglob("*evil*")]
    assert not Path("/tmp/evil-reference-member").exists()
    assert (dest / "karpenter/1.14.1/values.yaml").is_file(), "the other artifacts still land"


def test_a_subchart_of_another_version_is_refused_rather_than_misnamed(
        upstream: FakeUpstream, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    upstream.routes[upstream.path(KPS)] = tgz(kps_members(grafana_version="12.12.0"))
    dest = tmp_path / "cache"
    code, _, err = download(capsys, upstream, dest)
    assert code == 1
    assert ("kube-prometheus-stack/charts/grafana/Chart.yaml says version 12.12.0, expected "
            f"{ref.GRAFANA_CHART_VERSION}") in err
    assert not (dest / "kube-prometheus-stack").exists()


def test_a_missing_member_and_a_non_archive_are_clear_errors(
        upstream: FakeUpstream, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    members = chart_members()
    del members["cilium/templates/validate.yaml"]
    upstream.routes[upstream.path(CHART)] = tgz(members)
    upstream.routes[upstream.path(KPS)] = b"<html>not a chart</html>"
    code, _, err = download(capsys, upstream, tmp_path / "cache")
    assert code == 1
    assert f"{upstream.artifact_url(CHART)}: archive has no cilium/templates/validate.yaml" in err
    assert f"{upstream.artifact_url(KPS)}: not a readable .tgz" in err


def test_a_server_that_does_not_answer_times_out_as_a_failure(
        upstream: FakeUpstream, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    upstream.slow.add(upstream.path(ENI))
    code, _, err = run(capsys, "download", "--dest", str(tmp_path / "cache"), "--mirror", upstream.url,
                       "--timeout", "0.3")
    upstream.hold.set()
    assert code == 1
    assert f"{upstream.artifact_url(ENI)}: no answer within 0.3s" in err


def test_the_mirror_comes_from_the_environment_and_must_be_http(
        upstream: FakeUpstream, isolated_env: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(ref.MIRROR_ENV, upstream.url)
    code, _, err = run(capsys, "download")
    assert code == 0, err
    assert (isolated_env / "cilium/1.20.0/templates/validate.yaml").is_file(), "default dest: the cache"
    with pytest.raises(SystemExit) as exit_info:
        ref.main(["download", "--mirror", "ftp://mirror.example/reference"])
    assert exit_info.value.code == 2
    assert "must be an http(s) URL" in capsys.readouterr().err


def test_the_default_urls_are_the_pinned_upstream_ones() -> None:
    urls = {rel: a.url() for a in ref.ARTIFACTS for rel in a.relpaths}
    assert urls["cilium/1.20.0/values.yaml"] == "https://helm.cilium.io/cilium-1.20.0.tgz"
    assert urls["cilium/crds/ciliumnetworkpolicies.yaml"] == (
        "https://raw.githubusercontent.com/cilium/cilium/v1.20.0/pkg/k8s/apis/cilium.io/client/crds/v2/"
        "ciliumnetworkpolicies.yaml")
    assert urls["cilium/docs/eni.rst"] == (
        "https://raw.githubusercontent.com/cilium/cilium/v1.20.0/Documentation/network/concepts/ipam/eni.rst")
    assert urls["karpenter/1.14.1/crds/karpenter.k8s.aws_ec2nodeclasses.yaml"] == (
        "https://raw.githubusercontent.com/aws/karpenter-provider-aws/v1.14.1/pkg/apis/crds/"
        "karpenter.k8s.aws_ec2nodeclasses.yaml")
    assert urls["kube-prometheus-stack/88.5.3/subcharts/grafana-12.11.1-values.yaml"] == (
        "https://github.com/prometheus-community/helm-charts/releases/download/kube-prometheus-stack-88.5.3/"
        "kube-prometheus-stack-88.5.3.tgz")


def test_the_download_mirrors_the_shared_layout() -> None:
    """Every data file of the CI reference tree is downloaded to the same relative path (or is
    the one derived file), and only the files ../shared lacks are extra."""
    root = ref.reference_root({k: v for k, v in ENV_AT_START.items() if k != ref.CACHE_ENV} | {
        "XDG_CACHE_HOME": "/nonexistent"})
    if root is None:
        pytest.skip(f"the CI reference tree is not available here: set {ref.DIR_ENV}=../shared")
    shared = {p.relative_to(root).as_posix() for top in ("cilium", "karpenter", "kube-prometheus-stack")
              for p in (root / top).rglob("*") if p.is_file()}
    assert shared - set(ALL_RELPATHS) == set(ref.NOT_DOWNLOADED)
    assert set(ALL_RELPATHS) - shared == {"cilium/1.20.0/templates/validate.yaml", "cilium/docs/eni.rst"}


# --------------------------------------------------------------------------- lookup


@pytest.fixture
def two_trees(tmp_path: Path) -> tuple[Path, Path]:
    env_dir, cache = tmp_path / "shared", tmp_path / "cache"
    for root, tag in ((env_dir, "env"), (cache, "cache")):
        for rel in ("cilium/1.20.0/values.yaml", "karpenter/1.14.1/values.yaml"):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(tag)
    (cache / "cilium/1.20.0/templates").mkdir(parents=True)
    (cache / "cilium/1.20.0/templates/validate.yaml").write_text("cache")
    return env_dir, cache


def test_the_env_dir_comes_first_and_the_cache_fills_in_what_it_lacks(two_trees: tuple[Path, Path]) -> None:
    env_dir, cache = two_trees
    env = {ref.DIR_ENV: str(env_dir), ref.CACHE_ENV: str(cache)}
    assert ref.reference_root(env) == env_dir
    assert ref.reference_file("cilium/1.20.0/values.yaml", env) == env_dir / "cilium/1.20.0/values.yaml"
    assert ref.reference_file("cilium/1.20.0/templates/validate.yaml", env) == \
        cache / "cilium/1.20.0/templates/validate.yaml"
    assert ref.reference_file("cilium/docs/eni.rst", env) is None
    assert ref.reference_directory("karpenter", env) == env_dir / "karpenter"

    only_cache = {ref.CACHE_ENV: str(cache)}
    assert ref.reference_root(only_cache) == cache
    assert ref.reference_file("cilium/1.20.0/values.yaml", only_cache) == cache / "cilium/1.20.0/values.yaml"
    missing_env_dir = {ref.DIR_ENV: str(env_dir / "nope"), ref.CACHE_ENV: str(cache)}
    assert ref.reference_root(missing_env_dir) == cache
    assert ref.reference_root({ref.CACHE_ENV: str(cache / "nope")}) is None


def test_a_relative_env_dir_is_resolved_against_the_project_root(two_trees: tuple[Path, Path]) -> None:
    env_dir, _ = two_trees
    relative = os.path.relpath(env_dir, PROJECT_DIR)
    assert not Path(relative).is_absolute()
    assert ref.reference_root({ref.DIR_ENV: relative, ref.CACHE_ENV: "/nonexistent"}) == env_dir.resolve()


def test_the_legacy_variable_points_at_the_cilium_directory_only(two_trees: tuple[Path, Path]) -> None:
    env_dir, cache = two_trees
    env = {ref.LEGACY_CILIUM_DIR_ENV: str(env_dir / "cilium"), ref.CACHE_ENV: str(cache)}
    assert ref.reference_file("cilium/1.20.0/values.yaml", env) == env_dir / "cilium/1.20.0/values.yaml"
    assert ref.reference_directory("cilium", env) == env_dir / "cilium"
    # karpenter is outside what the legacy variable covers: the cache serves it
    assert ref.reference_file("karpenter/1.14.1/values.yaml", env) == cache / "karpenter/1.14.1/values.yaml"
    assert ref.reference_root(env) == cache
    # the new variable wins over the legacy one
    both = {**env, ref.DIR_ENV: str(cache)}
    assert ref.reference_file("cilium/1.20.0/values.yaml", both) == cache / "cilium/1.20.0/values.yaml"


def test_the_cache_location(tmp_path: Path) -> None:
    assert ref.cache_dir({ref.CACHE_ENV: str(tmp_path / "c")}) == tmp_path / "c"
    assert ref.cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "cilium-eks" / "reference"
    home = Path("~/.cache/cilium-eks/reference").expanduser()
    assert ref.cache_dir({}) == home
    assert ref.cache_dir({"XDG_CACHE_HOME": "relative/is/ignored"}) == home


@pytest.mark.parametrize("bad", ["../shared/cilium", "/etc/passwd", "cilium/../../x", ""])
def test_a_lookup_never_leaves_the_tree(bad: str) -> None:
    with pytest.raises(ValueError, match="relative"):
        ref.reference_file(bad, {})


def test_reference_path_finds_the_file_or_skips_with_the_command(
        two_trees: tuple[Path, Path], isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    relpath = "cilium/1.20.0/templates/validate.yaml"
    with pytest.raises(pytest.skip.Exception) as skipped:
        reference_path(relpath)
    assert str(skipped.value) == (
        f"upstream reference data not available: {relpath}; run `make reference` (downloads the pinned "
        f"upstream files into {isolated_env}); CI sets CILIUM_EKS_REFERENCE_DIR=../shared")
    assert reference_unavailable(relpath) == str(skipped.value)

    env_dir, cache = two_trees
    monkeypatch.setenv(ref.DIR_ENV, str(env_dir))
    monkeypatch.setenv(ref.CACHE_ENV, str(cache))
    assert reference_path(relpath) == cache / relpath
    assert reference_path("cilium") == env_dir / "cilium"


def test_where_and_status(two_trees: tuple[Path, Path], isolated_env: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    env_dir, cache = two_trees
    assert run(capsys, "where")[1].strip() == str(isolated_env)
    monkeypatch.setenv(ref.DIR_ENV, str(env_dir))
    monkeypatch.setenv(ref.CACHE_ENV, str(cache))
    code, out, _ = run(capsys, "where")
    assert (code, out.strip()) == (0, str(cache))

    code, out, _ = run(capsys, "status")
    assert code == 0
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith(("cilium/", "karp"))}
    assert rows["cilium/1.20.0/values.yaml"][:2] == [ref.DIR_ENV, "cache"]
    assert rows["cilium/1.20.0/templates/validate.yaml"][:2] == ["cache", "-"]
    assert rows["cilium/docs/eni.rst"][:2] == ["MISSING", "-"]
    assert "cilium/operator-iam-actions.json" in rows
    assert f"{len(ALL_RELPATHS) + len(ref.NOT_DOWNLOADED) - 3} of" in out


# --------------------------------------------------------------------------- eni.rst


def test_the_required_privileges_lists_are_read_with_their_lead_ins() -> None:
    lists = ref.eni_required_privileges(ENI_RST)
    assert [group.conditional for group in lists] == [False, True, True, True, True]
    assert lists[0].lead_in.startswith("The following EC2 privileges are required")
    always, conditional = ref.eni_required_actions(ENI_RST)
    assert always == ENI_ALWAYS, "only this section's lists: not the cache's calls before it, nor eth1 after"
    assert conditional == ENI_CONDITIONAL


def test_the_parser_takes_prefixed_actions_continuations_and_repeated_lists() -> None:
    text = """\
Required Privileges
===================

Needed always:

- ``ec2:CreateTags``
- ``DescribeSubnets``
  (also used for the subnet cache)

And these, also always:

- ``ec2:CreateTags``
- ``DescribeVpcs``

When prefix delegation is on:

- ``AssignPrivateIpAddresses``

Next section
============

- ``DescribeVolumes``
"""
    always, conditional = ref.eni_required_actions(text)
    assert always == ("ec2:CreateTags", "ec2:DescribeSubnets", "ec2:DescribeVpcs")
    assert conditional == {"When prefix delegation is on:": ("ec2:AssignPrivateIpAddresses",)}


@pytest.mark.parametrize(("text", "error"), [
    ("Other\n=====\n\n * ``CreateTags``\n", "no section titled 'Required Privileges'"),
    ("Required Privileges\n===================\n\nNone.\n", "lists no EC2 actions"),
    ("Required Privileges\n===================\n\nAll:\n\n * ``s3:GetObject``\n", "not an EC2 action"),
])
def test_the_parser_fails_loudly_rather_than_returning_too_little(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        ref.eni_required_privileges(text)


def documented_actions(relpath: str) -> tuple[set[str], set[frozenset[str]]]:
    path = reference_path(relpath)
    if relpath.endswith(".rst"):
        always, conditional = ref.eni_required_actions(path.read_text())
        return set(always), {frozenset(actions) for actions in conditional.values()}
    data = json.loads(path.read_text())
    return set(data["always"]), {frozenset(v) for k, v in data.items() if k.startswith("when_")}


@pytest.mark.parametrize("relpath", ["cilium/docs/eni.rst", "cilium/operator-iam-actions.json"])
def test_the_operators_actions_are_the_documented_ones(relpath: str) -> None:
    always, conditional = documented_actions(relpath)
    assert set(ACTIONS_ALWAYS) == always
    assert {frozenset(actions) for actions in ACTIONS_CONDITIONAL.values()} == conditional
