"""The project file and the stack files, read for the tooling (plan, docs, tests, CLI) exactly as
Pulumi reads them: the one reader.

Pulumi reads ``Pulumi.<stack>.yaml`` with go-yaml v3 (``gopkg.in/yaml.v3 v3.0.1``: pulumi/pulumi
``sdk/go.mod`` L34, ``pkg/go.mod`` L48; ``sdk/go/common/encoding/marshal.go`` L111-125), a YAML 1.2
core-schema reader, not PyYAML's YAML 1.1. What that means here (pulumi/pulumi at commit
1b5949891b, tag v3.259.0 + 14; go-yaml/yaml tag v3.0.1):

* Scalars resolve as go-yaml v3 resolves them (``resolve.go`` L126-265): ``true|True|TRUE`` and
  ``false|False|FALSE`` are booleans, ``no``/``yes``/``on``/``off`` are *strings*; ``1.30`` is the
  float 1.3; ``0x1F``, ``0o17``, ``017`` and ``1_000`` are integers; ``2024-01-01`` is a timestamp.
* Every config value is decoded into ``any`` and turned into the text the program receives
  (``sdk/go/common/resource/config/object.go`` ``UnmarshalYAML`` L455-463, ``unmarshalObject``
  L467-527, ``MarshalString`` L403-420): a bool or number becomes its JSON text (so an unquoted
  ``kubernetesVersion: 1.30`` reaches the program as ``"1.3"``), a timestamp Go's
  ``time.Time.String()``, a string itself, a map or list its JSON text (the program decodes it),
  a ``{secure: ...}`` map a secret. An empty value is the empty string (``workspace/loaders.go``
  ``checkForEmptyConfig``; go-yaml never calls an unmarshaler for a null node).
* Duplicate keys in one map are an error (go-yaml v3 ``decode.go`` L769-776: "mapping key %#v
  already defined at line %d"), and so are excessive aliases (L485-490).
* Keys declared with a ``type`` in Pulumi.yaml are checked before the program runs
  (``pkg/workspace/config.go`` ``validateStackConfigValue`` L119-157 with
  ``sdk/go/common/workspace/project.go`` ``ValidateConfigValue`` L771-831): an ``integer`` must
  parse with Go's ``strconv.Atoi``, a ``boolean`` must be exactly ``true`` or ``false``, an
  ``array`` must be a list whose items have the item type, a ``string`` must not be a map or list.
* A top-level key is secret when its value holds any ``secure`` leaf (``object.go`` ``Secure``
  L50-72, ``resource/config/map.go`` ``SecureKeys`` L105-113): the engine hands the program the
  decrypted text and the list of secret keys (``PULUMI_CONFIG_SECRET_KEYS``).

Stricter than Pulumi, on purpose: a stack file over :data:`MAX_FILE_BYTES`, with more than
:data:`MAX_ALIASES` aliases, :data:`MAX_NODES` nodes once aliases are expanded, or nesting deeper
than :data:`MAX_DEPTH` is refused at once (go-yaml's own guard refuses a document only once more
than 100 aliases and 1,000 decoded values are counted and 99% of them come from aliases,
``decode.go`` L455-490); a second YAML document is refused rather than ignored; one key written both with and
without the project's namespace is refused (Pulumi would keep one of them, whichever its map
iteration meets last). Every problem is a :class:`StackFileError` naming the file and the line.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer, ComposerError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from .paths import PROJECT_DIR

#: Limits of the guard (see the module docstring). A real stack file is a few kilobytes, uses no
#: alias, and has a few hundred nodes.
MAX_FILE_BYTES = 1 << 20
MAX_ALIASES = 100
MAX_NODES = 20_000
MAX_DEPTH = 64

#: The value the offline tools pass for a secret they cannot decrypt (no passphrase offline).
SECRET_PLACEHOLDER = "<secret>"


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileProblem:
    line: int | None  # 1-based
    what: str
    fix: str


class StackFileError(ValueError):
    """A stack or project file Pulumi would refuse (or read differently than it looks): every
    problem found, each with its line. Exit code 2 in the plan and the CLI."""

    def __init__(self, path: Path, problems: list[FileProblem]):
        self.path = path
        self.problems = tuple(problems)
        super().__init__("\n".join(f"{path}:{p.line if p.line is not None else '?'}: {p.what}. Fix: {p.fix}"
                                   for p in self.problems))


def _fail(path: Path, line: int | None, what: str, fix: str) -> StackFileError:
    return StackFileError(path, [FileProblem(line, what, fix)])


# --------------------------------------------------------------------------------------
# Values as go-yaml v3 resolves them
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Encrypted:
    """A ``{secure: <ciphertext>}`` value: Pulumi decrypts it and marks the key secret."""

    ciphertext: str


_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")  # resolve.go yamlStyleFloat
_SPECIAL: Mapping[str, Any] = {
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_MERGE = "<<"
_DIGITS = {2: "01", 8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}
_INT64 = (-(1 << 63), (1 << 63) - 1)
_UINT64 = (1 << 64) - 1

# time.Parse layouts go-yaml accepts (resolve.go allowedTimestampFormats L294-300), as patterns.
_TIMESTAMP = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})"
    r"(?:(?P<sep>[Tt ])(?P<h>\d{1,2}):(?P<mi>\d{1,2}):(?P<s>\d{1,2})(?:\.(?P<frac>\d{1,9}))?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?$")


def _go_int(text: str, *, unsigned: bool) -> int | None:
    """strconv.ParseInt / ParseUint with base 0 (0x, 0o, 0b prefixes and a leading 0 for octal)."""
    sign, rest = 1, text
    if rest[:1] in "+-" and rest:
        if unsigned:
            return None
        sign, rest = (-1 if rest[0] == "-" else 1), rest[1:]
    base = 10
    low = rest[:2].lower()
    if low in ("0x", "0o", "0b"):
        base, rest = {"0x": 16, "0o": 8, "0b": 2}[low], rest[2:]
    elif len(rest) > 1 and rest[0] == "0":
        base, rest = 8, rest[1:]
    if not rest or any(c not in _DIGITS[base] for c in rest):
        return None
    value = sign * int(rest, base)
    if unsigned:
        return value if value <= _UINT64 else None
    return value if _INT64[0] <= value <= _INT64[1] else None


def _timestamp(text: str) -> datetime | None:
    m = _TIMESTAMP.match(text)
    if m is None:
        return None
    if m["sep"] is not None and m["sep"] in "Tt" and m["tz"] is None:
        return None  # the RFC 3339 layouts need a zone
    if m["sep"] == " " and m["tz"] is not None:
        return None  # the space layout has none
    try:
        tz = UTC
        if m["tz"] and m["tz"] != "Z":
            hours, minutes = int(m["tz"][1:3]), int(m["tz"][4:6])
            offset = timedelta(hours=hours, minutes=minutes) * (-1 if m["tz"][0] == "-" else 1)
            tz = timezone(offset)
        frac = (m["frac"] or "").ljust(9, "0")
        return datetime(int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"] or 0), int(m["mi"] or 0),
                        int(m["s"] or 0), int(frac[:6] or 0), tzinfo=tz)
    except ValueError:
        return None


def go_time_string(t: datetime) -> str:
    """Go's ``time.Time.String()`` ("2006-01-02 15:04:05.999999999 -0700 MST"), which Pulumi
    passes for a YAML timestamp (object.go L490)."""
    offset = t.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    zone = f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    frac = f".{t.microsecond:06d}".rstrip("0") if t.microsecond else ""
    name = "UTC" if t.tzinfo is UTC else zone  # an unnamed fixed zone prints its offset as its name
    return f"{t:%Y-%m-%d %H:%M:%S}{frac} {zone} {name}"


def resolve_plain(text: str) -> Any:
    """A plain (unquoted, untagged) scalar as go-yaml v3 resolves it (resolve.go L126-265)."""
    if text in _SPECIAL:
        return _SPECIAL[text]
    first = text[:1]
    if first == ".":
        if "_" not in text and _FLOAT.match(text):
            return float(text)
        return text
    if first and (first.isdigit() or first in "+-"):
        stamp = _timestamp(text)
        if stamp is not None:
            return go_time_string(stamp)
        plain = text.replace("_", "")
        for unsigned in (False, True):
            value = _go_int(plain, unsigned=unsigned)
            if value is not None:
                return value
        if _FLOAT.match(plain):
            value = float(plain)
            if not math.isinf(value):  # Go's ParseFloat reports overflow as an error: the text stays
                return value
    return text


def _go_float(value: float) -> str:
    """encoding/json's float64 format (Go ``encode.go`` floatEncoder): shortest repr, exponent
    form below 1e-6 or from 1e21, ``e-07`` cleaned to ``e-7``."""
    if value == 0:
        return "0"
    if 1e-6 <= abs(value) < 1e21:
        text = repr(value)
        if "e" in text:  # repr switches to an exponent outside 1e-4..1e16; Go does not in this range
            text = format(Decimal(text), "f")
        return text.removesuffix(".0")
    mantissa, _, exponent = repr(value).partition("e")
    sign = exponent[0] if exponent[:1] in "+-" else "+"
    digits = exponent.lstrip("+-").lstrip("0") or "0"
    return f"{mantissa.removesuffix('.0')}e{sign}{digits.zfill(2) if sign == '+' else digits}"


def go_key(value: Any) -> str:
    """A map key as Pulumi keeps it: strings as they are, other scalars as Go's ``%v`` prints
    them (object.go L505-510)."""
    if isinstance(value, str):
        return value
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, "g").replace("inf", "+Inf").replace("-+Inf", "-Inf").replace("nan", "NaN")
    return str(value)


def go_json(value: Any) -> str:
    """``encoding/json.Marshal`` of a decoded value: compact, map keys sorted, Go's numbers."""
    if isinstance(value, Encrypted):
        return json.dumps(SECRET_PLACEHOLDER)
    if value is None or isinstance(value, (bool, str)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"{value} has no JSON form")
        return _go_float(value)
    if isinstance(value, list):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items())
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{go_json(v)}" for k, v in items) + "}"
    raise TypeError(f"not a config value: {value!r}")


def config_text(value: Any) -> str:
    """The text Pulumi hands the program for a top-level config value (object.go MarshalString)."""
    if value is None:
        return ""
    if isinstance(value, Encrypted):
        return SECRET_PLACEHOLDER
    if isinstance(value, str):
        return value
    return go_json(value)


def contains_secret(value: Any) -> bool:
    if isinstance(value, Encrypted):
        return True
    if isinstance(value, dict):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_secret(v) for v in value)
    return False


def _plain_json(value: Any) -> Any:
    """A decoded value as the program sees it after JSON (Go's numbers: 3.0 arrives as 3)."""
    return json.loads(go_json(value))


# --------------------------------------------------------------------------------------
# Reading YAML with the guard
# --------------------------------------------------------------------------------------

_PLAIN = "?plain"  # the tag the composer gives an untagged plain scalar (resolved later)
_STR = "tag:yaml.org,2002:str"


class _Loader(Reader, Scanner, Parser, Composer, BaseResolver):
    """PyYAML's reader, scanner, parser and composer (no constructor: values are built by
    :func:`_build`), counting aliases and nodes and bounding the depth while composing."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        BaseResolver.__init__(self)
        self.aliases = 0
        self.nodes = 0
        self.depth = 0

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _STR
        return super().resolve(kind, value, implicit)

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        mark = self.peek_event().start_mark
        if self.check_event(AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise _Guard(mark.line + 1, f"more than {MAX_ALIASES} YAML aliases")
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Guard(mark.line + 1, f"more than {MAX_NODES} YAML nodes")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _Guard(mark.line + 1, f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _Guard(Exception):
    def __init__(self, line: int, what: str) -> None:
        super().__init__(what)
        self.line = line
        self.what = what


def _line(node: Node) -> int:
    return node.start_mark.line + 1


class _Builder:
    """Builds values from composed nodes as go-yaml v3 decodes them into ``any``, expanding
    aliases within a budget, refusing duplicate keys, applying ``<<`` merges."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.budget = MAX_NODES
        self.active: set[int] = set()

    def _spend(self, node: Node) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise _fail(self.path, _line(node), f"the YAML expands to more than {MAX_NODES} values (an alias bomb?)",
                        "write the values out; a stack file needs no aliases")

    def build(self, node: Node) -> Any:
        self._spend(node)
        if id(node) in self.active:
            raise _fail(self.path, _line(node), "a YAML alias refers to the value that contains it",
                        "remove the alias; a value cannot contain itself")
        self.active.add(id(node))
        try:
            if isinstance(node, ScalarNode):
                return self.scalar(node)
            if isinstance(node, SequenceNode):
                return [self.build(n) for n in node.value]
            if isinstance(node, MappingNode):
                return self.mapping(node)
        finally:
            self.active.discard(id(node))
        raise _fail(self.path, _line(node), f"unexpected YAML node {type(node).__name__}", "write plain YAML")

    def scalar(self, node: ScalarNode) -> Any:
        text = str(node.value)
        tag = node.tag
        if node.style in ("'", '"', "|", ">"):  # go-yaml: indicatedString
            return text
        if tag == _PLAIN:
            return resolve_plain(text)
        short = tag.removeprefix("tag:yaml.org,2002:")
        if short == "str" or short == tag:  # !!str, or a tag of the user's own: the text
            return text
        if short == "binary":
            try:
                return base64.b64decode(text, validate=False).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                raise _fail(self.path, _line(node), "!!binary value contains invalid base64 data",
                            "fix the base64 text or remove the tag") from None
        value = resolve_plain(text)
        want = {"int": int, "float": float, "bool": bool, "null": type(None)}.get(short)
        if short == "float" and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if want is not None and (isinstance(value, want) and not (want is int and isinstance(value, bool))):
            return value
        if short == "timestamp" and _timestamp(text) is not None:
            return value
        raise _fail(self.path, _line(node), f"cannot decode `{text}` as a !!{short}",
                    f"remove the !!{short} tag or write a {short} value")

    def key(self, node: Node) -> str:
        if not isinstance(node, ScalarNode):
            raise _fail(self.path, _line(node), "a map key is itself a map or a list",
                        "use plain text keys")
        return go_key(self.build(node))

    def mapping(self, node: MappingNode) -> Any:
        seen: dict[tuple[str, str], int] = {}
        for k, _ in node.value:
            if isinstance(k, ScalarNode):
                ident = (k.id, str(k.value))
                if ident in seen:
                    raise _fail(self.path, _line(k), f"the key `{k.value}` is given twice in one map (lines "
                                f"{seen[ident]} and {_line(k)}); Pulumi refuses the file (go-yaml: mapping key "
                                "already defined)", "keep one of them")
                seen[ident] = _line(k)
        out: dict[str, Any] = {}
        merges: list[Node] = []
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.tag == _PLAIN and k.value == _MERGE:
                merges.append(v)
                continue
            out[self.key(k)] = self.build(v)
        for merge in merges:
            sources = merge.value if isinstance(merge, SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, MappingNode):
                    raise _fail(self.path, _line(source), "a `<<` merge needs a map (or a list of maps)",
                                "merge a map, or write the keys out")
                merged = self.build(source)
                for mk, mv in merged.items():
                    out.setdefault(mk, mv)
        if set(out) == {"secure"} and isinstance(out["secure"], str):
            return Encrypted(out["secure"])
        return out


def load_yaml(path: Path, text: str | None = None) -> Any:
    """One YAML document as go-yaml v3 decodes it, with the guard; raises StackFileError."""
    if text is None:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise _fail(path, None, f"cannot be read ({exc.strerror or exc})", "check the path") from None
        if len(raw) > MAX_FILE_BYTES:
            raise _fail(path, None, f"is {len(raw)} bytes, more than the {MAX_FILE_BYTES} a stack file may have",
                        "a stack file is a few kilobytes: remove what does not belong there")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _fail(path, None, f"is not UTF-8 text ({exc.reason} at byte {exc.start})",
                        "save the file as UTF-8") from None
    elif len(text.encode()) > MAX_FILE_BYTES:
        raise _fail(path, None, f"is more than {MAX_FILE_BYTES} bytes", "keep stack files small")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except _Guard as exc:
        raise _fail(path, exc.line, f"refused before reading further: {exc.what}",
                    "a stack file needs no aliases and little nesting; write the values out") from None
    except ComposerError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or "invalid YAML"
        if "expected a single document" in str(exc):
            what = "holds more than one YAML document (Pulumi reads the first and ignores the rest)"
        raise _fail(path, mark.line + 1 if mark else None, what, "keep one document: remove the extra `---`") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(str(x) for x in (exc.context, exc.problem) if x) or "invalid YAML"
        fix = "indent with spaces, never tabs" if "\\t" in what or "tab" in what.lower() else \
            "fix the YAML syntax (a stack file is `config:` followed by indented `key: value` lines)"
        raise _fail(path, mark.line + 1 if mark else None, f"is not valid YAML: {what}", fix) from None
    except yaml.YAMLError as exc:
        raise _fail(path, None, f"is not valid YAML: {exc}", "fix the YAML syntax") from None
    except RecursionError:
        raise _fail(path, None, "nests too deeply to read", "flatten the file") from None
    finally:
        loader.dispose()
    if node is None:
        return None
    return _Builder(path).build(node)


# --------------------------------------------------------------------------------------
# Project and stack files
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeclaredType:
    """A key's ``type`` in Pulumi.yaml (and its ``items`` type for arrays)."""

    type: str
    items: DeclaredType | None = None

    @property
    def full_name(self) -> str:  # workspace.InferFullTypeName
        return f"array<{self.items.full_name}>" if self.items else self.type


def _project_doc(project_dir: Path) -> dict[str, Any]:
    path = project_dir / "Pulumi.yaml"
    try:
        stat = path.stat()
    except OSError as exc:
        raise _fail(path, None, f"cannot be read ({exc.strerror or exc})", "run from the project directory") from None
    return _cached_project_doc(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _cached_project_doc(path: Path, _mtime_ns: int, _size: int) -> dict[str, Any]:
    doc = load_yaml(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str) or not doc["name"]:
        raise _fail(path, 1, "has no `name:`", "Pulumi.yaml needs `name: <project>`")
    return doc


def project_name(project_dir: Path = PROJECT_DIR) -> str:
    return str(_project_doc(project_dir)["name"])


def _declared(entry: Any) -> DeclaredType | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
        return None
    return DeclaredType(entry["type"], _declared(entry.get("items")))


def declared_types(project_dir: Path = PROJECT_DIR) -> dict[str, DeclaredType]:
    """The project's explicitly typed config keys, namespaced (``<project>:<key>``)."""
    doc = _project_doc(project_dir)
    project = doc["name"]
    out: dict[str, DeclaredType] = {}
    for key, entry in (doc.get("config") or {}).items():
        declared = _declared(entry)
        if declared is not None:
            out[key if ":" in key else f"{project}:{key}"] = declared
    return out


def stack_files(project_dir: Path = PROJECT_DIR) -> dict[str, Path]:
    """Every committed stack file, by stack name."""
    return {p.name[len("Pulumi."):-len(".yaml")]: p for p in sorted(project_dir.glob("Pulumi.*.yaml"))}


@dataclass(frozen=True)
class StackFile:
    """One stack file as Pulumi reads it."""

    path: Path
    #: Namespaced key -> value as go-yaml v3 resolves it (``Encrypted`` for ``secure`` values).
    config: dict[str, Any]
    #: Namespaced key -> the line it is written on.
    lines: dict[str, int]
    warnings: tuple[str, ...] = field(default=())

    @property
    def secret_keys(self) -> list[str]:
        return sorted(k for k, v in self.config.items() if contains_secret(v))

    def program_config(self) -> dict[str, str]:
        """What the Pulumi CLI hands the program (``PULUMI_CONFIG``): every value as text.
        Secrets cannot be decrypted offline: they arrive as :data:`SECRET_PLACEHOLDER`."""
        out: dict[str, str] = {}
        problems: list[FileProblem] = []
        for key, value in self.config.items():
            try:
                out[key] = config_text(value)
            except ValueError as exc:
                problems.append(FileProblem(self.lines.get(key), f"`{key}`: {exc}", "write a finite number"))
        if problems:
            raise StackFileError(self.path, problems)
        return out

    def type_problems(self, declared: Mapping[str, DeclaredType]) -> list[FileProblem]:
        """The keys Pulumi would refuse before running the program: "Stack '<stack>' with
        configuration key '<key>' must be of type '<type>'" (pkg/workspace/config.go L145-154)."""
        problems = []
        for key, want in sorted(declared.items()):
            if key not in self.config or contains_secret(self.config[key]):
                continue  # Pulumi checks the decrypted value; offline there is none
            value = self.config[key]
            content: Any = _plain_json(value) if isinstance(value, (list, dict)) else config_text(value)
            if not valid_config_value(want, content):
                short = key.split(":", 1)[-1]
                problems.append(FileProblem(
                    self.lines.get(key), f"`{key}` must be of type '{want.full_name}' (Pulumi.yaml declares it so), "
                    f"not {_describe(value)}; Pulumi refuses the stack before the program runs",
                    _type_fix(short, want)))
        return problems


def valid_config_value(want: DeclaredType, value: Any) -> bool:
    """sdk/go/common/workspace/project.go ValidateConfigValue (L771-831)."""
    if want.type == "string":
        return isinstance(value, str)
    if want.type == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            return True
        return isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value) is not None and \
            _INT64[0] <= int(value) <= _INT64[1]  # strconv.Atoi
    if want.type == "boolean":
        return value in ("true", "false") or isinstance(value, bool)
    if want.type == "object":
        return isinstance(value, dict)
    if not isinstance(value, list) or want.items is None:
        return False
    return all(valid_config_value(want.items, item) for item in value)


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list):
        return f"the list {go_json(value)}"
    return f"`{config_text(value)}`"


def _type_fix(key: str, want: DeclaredType) -> str:
    if want.type == "boolean":
        return f"write `{key}: true` or `{key}: false` (YAML 1.2: `yes`, `no`, `on` and `off` are text)"
    if want.type == "integer":
        return f"write a whole number, e.g. `{key}: 3`"
    if want.type == "array":
        return f"write a list, e.g. `{key}: [a, b]` (or `- a` lines under the key)"
    return f"write `{key}` as plain text (quote it when it looks like a number: '1.30')"


def read_stack_file(path: Path, project: str) -> StackFile:
    """A stack file as Pulumi reads it: its ``config:`` keys namespaced with ``project``."""
    doc = load_yaml(path)
    if doc is None:
        return StackFile(path, {}, {})
    if not isinstance(doc, dict):
        raise _fail(path, 1, f"holds {_kind(doc)}, not a map with a `config:` key",
                    "start the file with `config:` and indent `key: value` lines under it")
    raw = doc.get("config")
    if raw is None:
        return StackFile(path, {}, {})
    config_line = _find_line(path, r"config\s*:") or 1
    if not isinstance(raw, dict):
        raise _fail(path, config_line, f"`config:` holds {_kind(raw)}, not a map of `key: value`",
                    "indent `key: value` lines under `config:` (no `- ` list markers)")
    lines = _key_lines(path)
    config: dict[str, Any] = {}
    where: dict[str, int] = {}
    warnings: list[str] = []
    for key, value in raw.items():
        full = key if ":" in key else f"{project}:{key}"
        line = lines.get(key)
        if full in config:
            raise _fail(path, line, f"`{full}` is given twice (line {where.get(full)} and line {line}, once "
                        "without the project namespace); Pulumi would keep one of them",
                        "keep one of the two lines")
        if value is None:
            warnings.append(f"{path}:{line}: `{full}` has no value; Pulumi passes the empty string")
        config[full] = value
        if line is not None:
            where[full] = line
    return StackFile(path, config, where, tuple(warnings))


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a map"
    return f"the value `{config_text(value)}`"


def _find_line(path: Path, pattern: str) -> int | None:
    rx = re.compile(rf"^{pattern}")
    for i, line in enumerate(_text_lines(path), 1):
        if rx.match(line):
            return i
    return None


def _text_lines(path: Path) -> Iterator[str]:
    try:
        yield from path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return


def _key_lines(path: Path) -> dict[str, int]:
    """The line of each key directly under ``config:`` (for messages only)."""
    out: dict[str, int] = {}
    inside = False
    indent: int | None = None
    for i, line in enumerate(_text_lines(path), 1):
        if re.match(r"^config\s*:", line):
            inside = True
            continue
        if not inside or not line.strip() or line.lstrip().startswith("#"):
            continue
        width = len(line) - len(line.lstrip(" "))
        if width == 0:
            break
        indent = width if indent is None else indent
        if width == indent:
            m = re.match(r"""^\s*(?:"([^"]+)"|'([^']+)'|([^:#\s][^#]*?))\s*:(\s|$)""", line)
            if m:
                out.setdefault(next(g for g in m.groups()[:3] if g), i)
    return out


def stack_path(stack: str, project_dir: Path = PROJECT_DIR) -> Path:
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = ", ".join(stack_files(project_dir)) or "none"
        raise FileNotFoundError(f"no stack file Pulumi.{stack}.yaml (stacks: {known})")
    return path


def read_stack(stack: str, project_dir: Path = PROJECT_DIR) -> StackFile:
    return read_stack_file(stack_path(stack, project_dir), project_name(project_dir))


def stack_config(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """A stack's config, namespaced, with each value as go-yaml v3 resolves it (what the tests and
    docs compare against: ``true`` is True, ``3`` is 3, ``no`` is the text "no", ``1.30`` is 1.3).
    Raises StackFileError for a file Pulumi would refuse, FileNotFoundError for an unknown stack."""
    return dict(read_stack(stack, project_dir).config)


def parse_value(text: str, *, origin: str = "--set") -> Any:
    """One value written as YAML (``--set KEY=VALUE``), read like a stack file's value."""
    return load_yaml(Path(origin), text)


def marked_secrets(value: Any) -> Any:
    """A value with ``{secure: ...}`` maps written as Python data (a test's config) marked ``Encrypted``,
    as the stack reader marks them."""
    if isinstance(value, dict):
        if set(value) == {"secure"} and isinstance(value["secure"], str):
            return Encrypted(value["secure"])
        return {k: marked_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [marked_secrets(v) for v in value]
    return value


def namespaced(raw: Mapping[str, Any], project: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A stack's config with ``overrides`` on top; keys without a namespace get the project's."""
    out = dict(raw)
    for k, v in (overrides or {}).items():
        out[k if ":" in k else f"{project}:{k}"] = v
    return out


@dataclass(frozen=True)
class ProgramConfig:
    """A stack's config as the Pulumi CLI would hand it to the program, offline."""

    #: Namespaced keys with their values as the stack file holds them, overrides merged.
    values: dict[str, Any]
    #: Keys Pulumi would report as secret.
    secret_keys: tuple[str, ...]
    #: Keys whose whole value is encrypted: the offline tools have no passphrase, so they are left
    #: out (the program takes its default), and the plan says so.
    unreadable: tuple[str, ...] = ()
    #: What Pulumi would warn about while reading the file (a key without a value).
    warnings: tuple[str, ...] = ()

    def texts(self) -> dict[str, str]:
        """The text of every value (what ``PULUMI_CONFIG`` holds)."""
        return {k: config_text(marked_secrets(v)) for k, v in self.values.items()}


def stack_program_config(stack: str, *, project_dir: Path = PROJECT_DIR,
                         overrides: Mapping[str, Any] | None = None) -> ProgramConfig:
    """The stack file's config after the checks the Pulumi CLI makes before it runs the program
    (the file itself, and the keys Pulumi.yaml types, for the file's values and the overrides);
    raises ``StackFileError``."""
    project = project_name(project_dir)
    stack_file = read_stack(stack, project_dir)
    declared = declared_types(project_dir)
    problems = stack_file.type_problems(declared)
    if problems:
        raise StackFileError(stack_file.path, problems)
    if overrides:
        changed = StackFile(stack_file.path, namespaced({}, project, overrides), {})
        problems = changed.type_problems(declared)
        if problems:
            raise StackFileError(Path("--set"), [FileProblem(None, p.what, p.fix) for p in problems])
    unreadable = tuple(k for k, v in stack_file.config.items() if isinstance(v, Encrypted))
    values = namespaced({k: v for k, v in stack_file.config.items() if k not in unreadable}, project, overrides)
    StackFile(stack_file.path, values, stack_file.lines).program_config()  # a value with no JSON form (.nan)
    secrets = {*stack_file.secret_keys, *(k for k, v in values.items() if contains_secret(marked_secrets(v)))}
    return ProgramConfig(values=values, secret_keys=tuple(sorted(secrets)),
                         unreadable=tuple(k for k in unreadable if k not in values), warnings=stack_file.warnings)
