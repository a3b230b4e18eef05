"""The pinned upstream reference data the contract tests read: download it, and find it.

    python -m tooling.reference download [--dest DIR] [--force] [--mirror URL] [--timeout S]
    python -m tooling.reference where     # the cache directory (`download` writes there)
    python -m tooling.reference status    # which files each source holds, and which one wins

CI and developers have the data at ``../shared`` (``.ci/run`` sets ``CILIUM_EKS_REFERENCE_DIR``);
a user's clone does not, and nothing from it may be committed. ``download`` fetches the same
files from their upstream homes at the pinned versions into a cache outside git
(``$CILIUM_EKS_REFERENCE_CACHE``, else ``${XDG_CACHE_HOME:-~/.cache}/cilium-eks/reference``),
laid out exactly like ``../shared`` (same relative paths), so one lookup serves both:
:func:`reference_file` tries ``$CILIUM_EKS_REFERENCE_DIR`` first, then the legacy
``$CILIUM_REFERENCE_DIR`` (which points at the ``cilium`` directory), then the cache.

Every file is written atomically (temporary file + rename) and recorded in the cache's
``MANIFEST.json`` (URL, archive member, sha256, size, when). A file whose manifest entry still
matches (same URL and member, same sha256 on disk) is not fetched again, so a re-run is cheap
and changes nothing; ``--force`` fetches everything. A failed download is reported with its
URL and the others still run; the exit code is then 1. ``--mirror URL`` (or
``$CILIUM_EKS_REFERENCE_MIRROR``) fetches every file from ``URL/<source>/<path>`` instead
(``<source>`` is a key of :data:`BASE_URLS`): an internal mirror, or the tests' local server.

What was checked, and how (with the search tools over public repositories; the Cilium
repository was too large to fetch whole, so for it the paths were checked in the stored
index of its history, not at the v1.20.0 tag itself):

* ``helm.cilium.io`` is the cilium/charts repository, which keeps ``cilium-<version>.tgz`` at
  its root; the chart sits under ``cilium/`` in the archive (helm/helm ``pkg/chartutil/save.go``
  writes ``<chart name>/values.yaml``, ``values.schema.json``, ``templates/...``), and
  cilium/cilium has ``install/kubernetes/cilium/templates/validate.yaml``.
* cilium/cilium has ``pkg/k8s/apis/cilium.io/client/crds/v2/ciliumnetworkpolicies.yaml`` and
  ``ciliumclusterwidenetworkpolicies.yaml``; ``examples/minikube/http-sw-app.yaml``,
  ``sw_l3_l4_policy.yaml`` and ``sw_l3_l4_l7_policy.yaml``; and
  ``Documentation/network/concepts/ipam/eni.rst`` with a "Required Privileges" section: one
  unconditional list of EC2 actions followed by short lists each introduced by "If ...:"
  (ENI GC with default tags, releasing excess IPs, IPv6, ``--instance-tags-filter``).
* aws/karpenter-provider-aws at tag v1.14.1 (a fetched snapshot, ``git show``):
  ``charts/karpenter/values.yaml``, ``pkg/apis/crds/karpenter.sh_nodepools.yaml`` and
  ``pkg/apis/crds/karpenter.k8s.aws_ec2nodeclasses.yaml`` exist and are byte-identical to
  ``../shared/karpenter/1.14.1/``.
* prometheus-community/helm-charts at tag kube-prometheus-stack-88.5.3 (a fetched snapshot):
  ``Chart.yaml`` depends on grafana ``12.11.1`` from grafana-community; ``values.yaml`` and
  ``charts/crds/crds/crd-{prometheusrules,servicemonitors,podmonitors}.yaml`` are
  byte-identical to ``../shared/kube-prometheus-stack/88.5.3/``. Releases are packaged by
  chart-releaser (``helm package``), whose ``writeTarContents`` writes every dependency as a
  directory ``<chart>/charts/<dependency name>/``; so the archive holds
  ``kube-prometheus-stack/charts/grafana/values.yaml``. The download checks that subchart's
  ``Chart.yaml`` says 12.11.1 before naming the file after that version.
* ``cilium/operator-iam-actions.json`` in ``../shared`` is not an upstream file: it was derived
  from eni.rst. The cache holds ``cilium/docs/eni.rst`` instead; :func:`eni_required_actions`
  reads the same lists out of it.

Standard library only: it must run before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import TextIO

from .paths import PROJECT_DIR

# The pinned upstream versions: the one place to change them.
CILIUM_VERSION = "1.20.0"
KARPENTER_VERSION = "1.14.1"
KUBE_PROMETHEUS_STACK_VERSION = "88.5.3"
#: The grafana subchart kube-prometheus-stack 88.5.3 bundles (its Chart.yaml dependencies).
GRAFANA_CHART_VERSION = "12.11.1"

DIR_ENV = "CILIUM_EKS_REFERENCE_DIR"
LEGACY_CILIUM_DIR_ENV = "CILIUM_REFERENCE_DIR"
CACHE_ENV = "CILIUM_EKS_REFERENCE_CACHE"
MIRROR_ENV = "CILIUM_EKS_REFERENCE_MIRROR"
MANIFEST = "MANIFEST.json"
DOWNLOAD_COMMAND = "make reference"

DEFAULT_TIMEOUT = 60.0
#: No reference file or chart archive comes near this; a bigger answer is not the file.
MAX_BYTES = 64 * 1024 * 1024
USER_AGENT = "cilium-eks-reference/1 (+python urllib)"

#: Where each source lives. ``--mirror URL`` replaces every one with ``URL/<key>``.
BASE_URLS: Mapping[str, str] = MappingProxyType({
    "cilium-charts": "https://helm.cilium.io",
    "cilium": "https://raw.githubusercontent.com/cilium/cilium",
    "karpenter": "https://raw.githubusercontent.com/aws/karpenter-provider-aws",
    "kube-prometheus-stack": "https://github.com/prometheus-community/helm-charts/releases/download",
})


@dataclass(frozen=True)
class Artifact:
    """One download: a plain file (``member`` is ``""``), or an archive of which some members
    are kept. ``files`` maps the member to its path in the reference layout; ``versions`` are
    the ``version:`` a member Chart.yaml must state, checked before anything is written."""

    source: str
    path: str
    files: tuple[tuple[str, str], ...]
    versions: tuple[tuple[str, str], ...] = ()

    @property
    def is_archive(self) -> bool:
        return self.path.endswith((".tgz", ".tar.gz"))

    def url(self, base_urls: Mapping[str, str] = BASE_URLS) -> str:
        return f"{base_urls[self.source].rstrip('/')}/{self.path}"

    @property
    def relpaths(self) -> tuple[str, ...]:
        return tuple(rel for _, rel in self.files)


def _raw(source: str, path: str, relpath: str) -> Artifact:
    return Artifact(source, path, (("", relpath),))


_CILIUM = f"cilium/{CILIUM_VERSION}"
_CILIUM_TAG = f"v{CILIUM_VERSION}"
_CILIUM_CRDS = f"{_CILIUM_TAG}/pkg/k8s/apis/cilium.io/client/crds/v2"
_KARPENTER = f"karpenter/{KARPENTER_VERSION}"
_KARPENTER_TAG = f"v{KARPENTER_VERSION}"
_KPS = f"kube-prometheus-stack/{KUBE_PROMETHEUS_STACK_VERSION}"
_KPS_RELEASE = f"kube-prometheus-stack-{KUBE_PROMETHEUS_STACK_VERSION}"

ARTIFACTS: tuple[Artifact, ...] = (
    Artifact("cilium-charts", f"cilium-{CILIUM_VERSION}.tgz", (
        ("cilium/values.yaml", f"{_CILIUM}/values.yaml"),
        ("cilium/values.schema.json", f"{_CILIUM}/values.schema.json"),
        # Not in ../shared: tests that read it skip there with the command to run.
        ("cilium/templates/validate.yaml", f"{_CILIUM}/templates/validate.yaml"),
    ), versions=(("cilium/Chart.yaml", CILIUM_VERSION),)),
    _raw("cilium", f"{_CILIUM_CRDS}/ciliumnetworkpolicies.yaml", "cilium/crds/ciliumnetworkpolicies.yaml"),
    _raw("cilium", f"{_CILIUM_CRDS}/ciliumclusterwidenetworkpolicies.yaml",
         "cilium/crds/ciliumclusterwidenetworkpolicies.yaml"),
    _raw("cilium", f"{_CILIUM_TAG}/examples/minikube/http-sw-app.yaml", "cilium/examples/http-sw-app.yaml"),
    _raw("cilium", f"{_CILIUM_TAG}/examples/minikube/sw_l3_l4_policy.yaml", "cilium/examples/sw_l3_l4_policy.yaml"),
    _raw("cilium", f"{_CILIUM_TAG}/examples/minikube/sw_l3_l4_l7_policy.yaml",
         "cilium/examples/sw_l3_l4_l7_policy.yaml"),
    # Instead of ../shared's derived operator-iam-actions.json: its source, read by eni_required_actions.
    _raw("cilium", f"{_CILIUM_TAG}/Documentation/network/concepts/ipam/eni.rst", "cilium/docs/eni.rst"),
    _raw("karpenter", f"{_KARPENTER_TAG}/charts/karpenter/values.yaml", f"{_KARPENTER}/values.yaml"),
    _raw("karpenter", f"{_KARPENTER_TAG}/pkg/apis/crds/karpenter.sh_nodepools.yaml",
         f"{_KARPENTER}/crds/karpenter.sh_nodepools.yaml"),
    _raw("karpenter", f"{_KARPENTER_TAG}/pkg/apis/crds/karpenter.k8s.aws_ec2nodeclasses.yaml",
         f"{_KARPENTER}/crds/karpenter.k8s.aws_ec2nodeclasses.yaml"),
    Artifact("kube-prometheus-stack", f"{_KPS_RELEASE}/{_KPS_RELEASE}.tgz", (
        ("kube-prometheus-stack/values.yaml", f"{_KPS}/values.yaml"),
        *((f"kube-prometheus-stack/charts/crds/crds/crd-{kind}.yaml", f"{_KPS}/crds/crd-{kind}.yaml")
          for kind in ("prometheusrules", "servicemonitors", "podmonitors")),
        ("kube-prometheus-stack/charts/grafana/values.yaml",
         f"{_KPS}/subcharts/grafana-{GRAFANA_CHART_VERSION}-values.yaml"),
    ), versions=(("kube-prometheus-stack/Chart.yaml", KUBE_PROMETHEUS_STACK_VERSION),
                 ("kube-prometheus-stack/charts/grafana/Chart.yaml", GRAFANA_CHART_VERSION))),
)

#: Files ../shared holds that are not downloaded, and what stands in for them in the cache.
NOT_DOWNLOADED: Mapping[str, str] = MappingProxyType({
    "cilium/operator-iam-actions.json": "not downloaded: derived from cilium/docs/eni.rst, which the cache holds",
})


class DownloadError(Exception):
    """One artifact could not be fetched or was not what it should be."""


# --------------------------------------------------------------------------- where the data is


def _resolve(value: str) -> Path:
    """An environment variable's path: ``~`` expanded, relative to the project root."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (PROJECT_DIR / path).resolve()


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where ``download`` writes by default (whether or not it exists yet)."""
    env = os.environ if environ is None else environ
    if env.get(CACHE_ENV):
        return _resolve(env[CACHE_ENV])
    xdg = env.get("XDG_CACHE_HOME", "")
    # The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path("~/.cache").expanduser()
    return base / "cilium-eks" / "reference"


@dataclass(frozen=True)
class Root:
    """A place reference files are looked up in: ``path`` holds the paths under ``prefix``."""

    label: str
    path: Path
    prefix: str = ""

    def locate(self, relpath: str) -> Path | None:
        """Where ``relpath`` would be in this root, or None if it lies outside its prefix."""
        if self.prefix and not (relpath == self.prefix.rstrip("/") or relpath.startswith(self.prefix)):
            return None
        rest = relpath[len(self.prefix):] if self.prefix else relpath
        return self.path / rest if rest else self.path


def reference_roots(environ: Mapping[str, str] | None = None) -> list[Root]:
    """The roots that exist, in lookup order: ``$CILIUM_EKS_REFERENCE_DIR``, the legacy
    ``$CILIUM_REFERENCE_DIR`` (the ``cilium`` directory only), then the cache."""
    env = os.environ if environ is None else environ
    roots: list[Root] = []
    if env.get(DIR_ENV):
        roots.append(Root(DIR_ENV, _resolve(env[DIR_ENV])))
    if env.get(LEGACY_CILIUM_DIR_ENV):
        roots.append(Root(LEGACY_CILIUM_DIR_ENV, _resolve(env[LEGACY_CILIUM_DIR_ENV]), prefix="cilium/"))
    roots.append(Root("cache", cache_dir(env)))
    return [root for root in roots if root.path.is_dir()]


def reference_root(environ: Mapping[str, str] | None = None) -> Path | None:
    """The first full reference tree: ``$CILIUM_EKS_REFERENCE_DIR`` (CI: ``../shared``,
    relative to the project root), else the cache if it exists."""
    for root in reference_roots(environ):
        if not root.prefix:
            return root.path
    return None


def _check_relpath(relpath: str) -> str:
    path = PurePosixPath(relpath)
    if not relpath or path.is_absolute() or ".." in path.parts or "\\" in relpath:
        raise ValueError(f"reference paths are relative and stay inside the tree: {relpath!r}")
    return path.as_posix()


def reference_file(relpath: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """The file ``relpath`` (``../shared`` layout, e.g. ``cilium/1.20.0/values.yaml``) from the
    first root that has it, or None. A file the env dir lacks (``templates/validate.yaml``
    is not in ../shared) is taken from the cache."""
    relpath = _check_relpath(relpath)
    for root in reference_roots(environ):
        candidate = root.locate(relpath)
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def reference_directory(relpath: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """The directory ``relpath`` (e.g. ``cilium``) from the first root that has it, or None."""
    relpath = _check_relpath(relpath)
    for root in reference_roots(environ):
        candidate = root.locate(relpath)
        if candidate is not None and candidate.is_dir():
            return candidate
    return None


# --------------------------------------------------------------------------- downloading


def base_urls(mirror: str | None = None) -> dict[str, str]:
    """The base URL of every source; with a mirror, ``<mirror>/<source>`` for each."""
    if not mirror:
        return dict(BASE_URLS)
    parsed = urllib.parse.urlsplit(mirror)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"--mirror / {MIRROR_ENV} must be an http(s) URL, not {mirror!r}")
    return {key: f"{mirror.rstrip('/')}/{key}" for key in BASE_URLS}


def fetch(url: str, timeout: float = DEFAULT_TIMEOUT, max_bytes: int = MAX_BYTES) -> bytes:
    """The body of ``url`` (redirects followed), or DownloadError saying what went wrong."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise DownloadError(f"not an http(s) URL: {url}")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            chunks: list[bytes] = []
            size = 0
            while chunk := response.read(1 << 16):
                size += len(chunk)
                if size > max_bytes:
                    raise DownloadError(f"more than {max_bytes} bytes: not the expected file")
                chunks.append(chunk)
            return b"".join(chunks)
    except urllib.error.HTTPError as err:
        raise DownloadError(f"HTTP {err.code} {err.reason}") from err
    except urllib.error.URLError as err:
        if isinstance(err.reason, TimeoutError):
            raise DownloadError(f"no answer within {timeout:g}s") from err
        raise DownloadError(f"cannot connect: {err.reason}") from err
    except TimeoutError as err:
        raise DownloadError(f"no answer within {timeout:g}s") from err
    except OSError as err:
        raise DownloadError(f"{type(err).__name__}: {err}") from err


def _unsafe_member_name(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or bool(re.match(r"^[A-Za-z]:", name))


def extract_members(archive: bytes, wanted: Sequence[str], max_bytes: int = MAX_BYTES) -> dict[str, bytes]:
    """The named regular-file members of a gzipped tar, read into memory (nothing is written).
    The whole archive is refused if any member has an absolute path or ``..`` in it."""
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
            members = tar.getmembers()
            for member in members:
                if _unsafe_member_name(member.name):
                    raise DownloadError(f"refusing the archive: member {member.name!r} has an absolute path "
                                        "or '..' in it")
            by_name = {m.name.removeprefix("./"): m for m in members}
            out: dict[str, bytes] = {}
            missing = [name for name in wanted if name not in by_name]
            if missing:
                raise DownloadError(f"archive has no {', '.join(missing)}: not the expected chart layout")
            for name in wanted:
                member = by_name[name]
                if not member.isfile():
                    raise DownloadError(f"archive member {name!r} is not a regular file")
                if member.size > max_bytes:
                    raise DownloadError(f"archive member {name!r} is larger than {max_bytes} bytes")
                handle = tar.extractfile(member)
                if handle is None:
                    raise DownloadError(f"archive member {name!r} cannot be read")
                out[name] = handle.read()
            return out
    except tarfile.TarError as err:
        raise DownloadError(f"not a readable .tgz: {err}") from err


_CHART_VERSION = re.compile(r"""^version:[ \t]*["']?([^"'\s#]+)""", re.MULTILINE)


def chart_version(chart_yaml: bytes) -> str | None:
    """The top-level ``version:`` of a Chart.yaml (Helm writes it unquoted at column 0)."""
    match = _CHART_VERSION.search(chart_yaml.decode("utf-8", "replace"))
    return match.group(1) if match else None


def artifact_files(artifact: Artifact, body: bytes, max_bytes: int = MAX_BYTES) -> dict[str, bytes]:
    """Reference relpath -> content, from a downloaded body; DownloadError if it is not right."""
    if not artifact.is_archive:
        return {rel: body for _, rel in artifact.files}
    version_members = [member for member, _ in artifact.versions]
    members = extract_members(body, [m for m, _ in artifact.files] + version_members, max_bytes)
    for member, expected in artifact.versions:
        found = chart_version(members[member])
        if found != expected:
            raise DownloadError(f"{member} says version {found or '(none)'}, expected {expected}")
    return {rel: members[member] for member, rel in artifact.files}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 16):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename,
    so a reader never sees half a file and an interrupted run leaves the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_manifest(dest: Path) -> dict[str, dict[str, object]]:
    """Relpath -> record from ``dest/MANIFEST.json``; empty if it is missing or unreadable
    (then everything is fetched again, which is safe)."""
    try:
        data = json.loads((dest / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return {k: v for k, v in files.items() if isinstance(v, dict)} if isinstance(files, dict) else {}


def write_manifest(dest: Path, files: Mapping[str, Mapping[str, object]]) -> None:
    document = {
        "comment": "Written by `python -m tooling.reference download`: the pinned upstream files in this "
                   "directory, where each came from and its sha256.",
        "files": {rel: dict(files[rel]) for rel in sorted(files)},
    }
    write_atomically(dest / MANIFEST, (json.dumps(document, indent=2) + "\n").encode())


def _target(dest: Path, relpath: str) -> Path:
    target = dest / _check_relpath(relpath)
    if not target.resolve().is_relative_to(dest.resolve()):
        raise DownloadError(f"{relpath} would be written outside {dest}")
    return target


def up_to_date(artifact: Artifact, url: str, dest: Path, manifest: Mapping[str, Mapping[str, object]]) -> bool:
    """Every file of the artifact is on disk as the manifest recorded it, from the same URL."""
    for member, rel in artifact.files:
        record = manifest.get(rel)
        path = dest / rel
        if (record is None or record.get("url") != url or record.get("member", "") != member
                or not path.is_file() or file_sha256(path) != record.get("sha256")):
            return False
    return True


@dataclass(frozen=True)
class Failure:
    url: str
    relpaths: tuple[str, ...]
    error: str

    def __str__(self) -> str:
        return f"{self.url}: {self.error} (for {', '.join(self.relpaths)})"


@dataclass(frozen=True)
class Result:
    fetched: tuple[str, ...]
    unchanged: tuple[str, ...]
    failures: tuple[Failure, ...]


def download(dest: Path, *, urls: Mapping[str, str] | None = None, artifacts: Sequence[Artifact] = ARTIFACTS,
             timeout: float = DEFAULT_TIMEOUT, force: bool = False, log: TextIO | None = None) -> Result:
    """Fetch every artifact into ``dest`` (the ../shared layout) and record it in the manifest.
    A failure is collected, not raised: the other artifacts still land."""
    urls = dict(BASE_URLS) if urls is None else dict(urls)
    out = log if log is not None else sys.stderr
    dest.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(dest)
    fetched: list[str] = []
    unchanged: list[str] = []
    failures: list[Failure] = []
    for artifact in artifacts:
        url = artifact.url(urls)
        if not force and up_to_date(artifact, url, dest, manifest):
            unchanged.extend(artifact.relpaths)
            print(f"up to date  {url}", file=out)
            continue
        try:
            files = artifact_files(artifact, fetch(url, timeout=timeout))
            targets = {rel: _target(dest, rel) for rel in files}
            when = datetime.now(UTC).isoformat(timespec="seconds")
            for member, rel in artifact.files:
                data = files[rel]
                write_atomically(targets[rel], data)
                record: dict[str, object] = {"url": url, "sha256": sha256(data), "size": len(data),
                                             "downloaded": when}
                if member:
                    record["member"] = member
                manifest[rel] = record
            write_manifest(dest, manifest)
        except (DownloadError, OSError) as err:
            failures.append(Failure(url, artifact.relpaths, str(err)))
            print(f"FAILED      {url}: {err}", file=out)
            continue
        fetched.extend(artifact.relpaths)
        print(f"fetched     {url}", file=out)
    return Result(tuple(fetched), tuple(unchanged), tuple(failures))


# --------------------------------------------------------------------------- eni.rst


@dataclass(frozen=True)
class PrivilegeList:
    """One bullet list of the "Required Privileges" section and the sentence introducing it."""

    lead_in: str
    actions: tuple[str, ...]

    @property
    def conditional(self) -> bool:
        """A list introduced by "If ..." (or "When ...") is needed only with that setting."""
        return bool(re.match(r"(?i)(if|when|only|unless)\b", self.lead_in))


_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1+\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*\S)\s*$")
_ACTION = re.compile(r"^(?:``)?(?:ec2:)?([A-Z][A-Za-z0-9]+)(?:``)?$")


def _headings(lines: Sequence[str]) -> Iterator[tuple[int, int, str, tuple[str, bool]]]:
    """(first line, line after the heading, title, style) of every RST section title; a style
    is the adornment character and whether there is an overline."""
    i = 0
    while i + 1 < len(lines):
        title, under = lines[i], lines[i + 1]
        if (title.strip() and not _ADORNMENT.match(title) and not title[:1].isspace()
                and _ADORNMENT.match(under) and len(under.rstrip()) >= len(title.rstrip())):
            over = i > 0 and lines[i - 1].rstrip() == under.rstrip()
            yield (i - 1 if over else i), i + 2, title.strip(), (under.strip()[0], over)
            i += 2
            continue
        i += 1


def section_lines(text: str, title: str) -> list[str]:
    """The body of the RST section named ``title``: up to the next title of the same or a
    higher level (levels follow the order in which adornment styles first appear)."""
    lines = text.splitlines()
    levels: dict[tuple[str, bool], int] = {}
    found: tuple[int, int] | None = None  # (first body line, level)
    for start, body, heading, style in _headings(lines):
        level = levels.setdefault(style, len(levels))
        if found is not None and level <= found[1]:
            return lines[found[0]:start]
        if found is None and heading.lower() == title.lower():
            found = (body, level)
    if found is None:
        raise ValueError(f"no section titled {title!r}")
    return lines[found[0]:]


def eni_required_privileges(text: str) -> list[PrivilegeList]:
    """The bullet lists of EC2 actions in eni.rst's "Required Privileges" section, each with the
    paragraph before it. Actions come back as ``ec2:<Name>`` (the docs write ``Name``)."""
    lists: list[PrivilegeList] = []
    paragraph: list[str] = []
    lead_in = ""
    actions: list[str] = []
    bullet_indent: int | None = None

    def close() -> None:
        nonlocal actions
        if actions:
            lists.append(PrivilegeList(lead_in, tuple(actions)))
        actions = []

    for line in section_lines(text, "Required Privileges"):
        bullet = _BULLET.match(line)
        if bullet:
            if paragraph:  # a list after a paragraph starts a new list
                close()
                lead_in, paragraph = " ".join(" ".join(paragraph).split()), []
            match = _ACTION.match(bullet.group(2).strip())
            if not match:
                raise ValueError(f"not an EC2 action in the Required Privileges list: {bullet.group(2)!r}")
            actions.append(f"ec2:{match.group(1)}")
            bullet_indent = len(bullet.group(1))
        elif not line.strip():
            continue
        elif actions and bullet_indent is not None and len(line) - len(line.lstrip()) > bullet_indent \
                and not paragraph:
            continue  # a bullet item's continuation line
        elif not line.lstrip().startswith(".."):
            paragraph.append(line.strip())
    close()
    if not lists:
        raise ValueError("the Required Privileges section lists no EC2 actions")
    return lists


def eni_required_actions(text: str) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """The operator's EC2 actions from eni.rst: those always needed (every unconditional list,
    in order, without repeats) and, per lead-in sentence ("If releasing excess IPs is
    enabled:"), those needed only then."""
    always: list[str] = []
    conditional: dict[str, tuple[str, ...]] = {}
    for group in eni_required_privileges(text):
        if group.conditional:
            conditional[group.lead_in] = tuple(dict.fromkeys(conditional.get(group.lead_in, ()) + group.actions))
        else:
            always.extend(a for a in group.actions if a not in always)
    return tuple(always), conditional


# --------------------------------------------------------------------------- command line


def status_lines(environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    cache = cache_dir(env)
    sources: list[tuple[str, Root | None, str]] = []
    for label, var, prefix in ((DIR_ENV, DIR_ENV, ""), (LEGACY_CILIUM_DIR_ENV, LEGACY_CILIUM_DIR_ENV, "cilium/")):
        value = env.get(var)
        if not value:
            sources.append((label, None, "(unset)"))
            continue
        root = Root(label, _resolve(value), prefix)
        sources.append((label, root, f"{root.path}" + ("" if root.path.is_dir() else "  (missing)")))
    hint = "" if cache.is_dir() else f"  (missing: run `{DOWNLOAD_COMMAND}`)"
    sources.append(("cache", Root("cache", cache), f"{cache}{hint}"))
    lines = ["Reference data sources, in lookup order (the first that has a file wins):"]
    lines += [f"  {label:<28} {where}" for label, _, where in sources]
    present = [(label, root) for label, root, _ in sources if root is not None and root.path.is_dir()]
    rels = [rel for a in ARTIFACTS for rel in a.relpaths] + list(NOT_DOWNLOADED)
    width = max(len(rel) for rel in rels)
    lines += ["", f"{'file':<{width}}  {'used from':<28} also in"]
    missing = 0
    for rel in rels:
        holders = [label for label, root in present if (p := root.locate(rel)) is not None and p.is_file()]
        if not holders:
            missing += 1
        note = f"  ({NOT_DOWNLOADED[rel]})" if rel in NOT_DOWNLOADED else ""
        lines.append(f"{rel:<{width}}  {(holders[0] if holders else 'MISSING'):<28} "
                     f"{', '.join(holders[1:]) or '-'}{note}")
    manifest = read_manifest(cache)
    stale = [rel for rel, record in manifest.items()
             if (cache / rel).is_file() and file_sha256(cache / rel) != record.get("sha256")]
    lines.append("")
    lines.append(f"{missing} of {len(rels)} files missing everywhere" if missing else "every file is available")
    if stale:
        lines.append(f"changed since download (run `{DOWNLOAD_COMMAND}` to restore): {', '.join(sorted(stale))}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.reference",
                                     description="Download or locate the pinned upstream reference data.")
    sub = parser.add_subparsers(dest="command", required=True)
    get = sub.add_parser("download", help="fetch the pinned upstream files into the cache")
    get.add_argument("--dest", type=Path, help=f"directory to fill (default: ${CACHE_ENV} or "
                                               "${XDG_CACHE_HOME:-~/.cache}/cilium-eks/reference)")
    get.add_argument("--force", action="store_true", help="fetch even the files the manifest says are up to date")
    get.add_argument("--mirror", default=os.environ.get(MIRROR_ENV) or None,
                     help=f"fetch every file from MIRROR/<source>/<path> (default: ${MIRROR_ENV})")
    get.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per request")
    sub.add_parser("where", help="print the cache directory")
    sub.add_parser("status", help="list which files each source holds")
    args = parser.parse_args(argv)

    if args.command == "where":
        print(cache_dir())
        return 0
    if args.command == "status":
        print("\n".join(status_lines()))
        return 0

    try:
        urls = base_urls(args.mirror)
    except ValueError as err:
        parser.error(str(err))
    dest: Path = args.dest.expanduser().resolve() if args.dest else cache_dir()
    result = download(dest, urls=urls, timeout=args.timeout, force=args.force)
    total = len(result.fetched) + len(result.unchanged) + sum(len(f.relpaths) for f in result.failures)
    if result.failures:
        print(f"\n{len(result.failures)} download(s) failed; {len(result.fetched) + len(result.unchanged)} "
              f"of {total} files are in {dest}:", file=sys.stderr)
        for failure in result.failures:
            print(f"  {failure}", file=sys.stderr)
        print("Run it again to retry (what landed is kept). Behind a proxy, set HTTPS_PROXY; with an internal "
              f"mirror, pass --mirror URL (or set {MIRROR_ENV}).", file=sys.stderr)
        return 1
    print(f"{total} reference files in {dest} ({len(result.fetched)} fetched, {len(result.unchanged)} already "
          "up to date)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
