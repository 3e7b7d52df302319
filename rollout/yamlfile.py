"""Reading YAML the way a rollout needs it.

Two readers, chosen by measurement (docs/yaml-loaders.md):

* `load_documents`: yaml-rs (Rust, YAML 1.2 core schema, duplicate keys are errors),
  ~11x faster than PyYAML's C loader on a 10,000-cluster inventory (GC paused, as we run both). Used for inventories.
* `Located`: PyYAML's composer, slower but it reports the line of every node and the
  quoting style of every scalar. Used for the small policy file, and for an inventory
  file only when there is something to point at (an error) or a plain scalar whose
  meaning depends on the YAML version (`no` is a boolean to YAML 1.1 readers such as
  Kubernetes, text to YAML 1.2 ones).

Plain scalars are read strictly: anything YAML 1.1 *or* 1.2 would take for a number,
boolean, null or date is not text, so `revision: 1.20` can never quietly become `1.2`.
"""

from __future__ import annotations

import contextlib
import gc
import re
from dataclasses import dataclass
from pathlib import Path

from waves.problems import Loc

# A document marker at column 0 is always a marker in valid YAML (never scalar content).
_DOC_START = re.compile(r"^---(?:[ \t]|$)", re.MULTILINE)
_DOC_END = re.compile(r"^\.\.\.(?:[ \t]|$)", re.MULTILINE)
# Plain scalars YAML 1.2's core schema reads as numbers that YAML 1.1 reads as text, and
# the reverse; either reading makes the value unsafe to use as text.
_YAML12_NUMBER = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
YAML11_ONLY_BOOLS = frozenset("y Y yes Yes YES n N no No NO on On ON off Off OFF".split())
_YAML11_SEXAGESIMAL = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")


def yaml11_only_nontext(value: str) -> bool:
    """True for text that YAML 1.2 keeps as text but YAML 1.1 reads as a bool or number."""
    return value in YAML11_ONLY_BOOLS or bool(_YAML11_SEXAGESIMAL.fullmatch(value))


@contextlib.contextmanager
def bulk():
    """Pause the cyclic garbage collector while thousands of YAML nodes are built and
    kept: they form no cycles, and collections that rescan ~1M live objects over and
    over cost ~4x the parsing itself on a 10,000-file wave and ~7x with PyYAML's
    composer on a 10,000-cluster inventory (docs/performance.md)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            # What survived is long-lived: move it out of the collector's sight, or the
            # first collection after re-enabling rescans all of it (~0.4 s at 10,000 files).
            gc.freeze()
            gc.enable()


class YamlError(Exception):
    """`safe`: the message is ours and quotes nothing from the file (fit for a file
    that holds credentials)."""

    def __init__(self, path: Path | str, line: int | None, message: str, safe: bool = False):
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message
        self.safe = safe


def read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise YamlError(path, None, "file not found", safe=True) from None
    except IsADirectoryError:
        raise YamlError(path, None, "is a directory, not a file", safe=True) from None
    except OSError as err:
        raise YamlError(path, None, f"cannot read: {err.strerror}", safe=True) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise YamlError(path, line, "not UTF-8 text", safe=True) from None
    nul = text.find("\0")
    if nul >= 0:  # binary, or text with a NUL no YAML reader accepts
        raise YamlError(path, text.count("\n", 0, nul) + 1, "holds a NUL byte: not a YAML text file", safe=True)
    return text


def load_documents(path: Path, text: str | None = None, datetimes: bool = True) -> list[object]:
    """Every non-empty document in the file, fast. Raises YamlError with a line.
    `datetimes=False`: timestamps stay text, as Kubernetes objects hold them (yaml-rs
    otherwise reads even a quoted "2025-01-01T00:00:00Z" as a datetime)."""
    import yaml_rs

    if text is None:
        text = read_text(path)
    try:
        loaded = yaml_rs.loads(text, parse_datetime=datetimes)
    except Exception as err:  # yaml-rs raises its own YAMLDecodeError
        # Let the position-reporting parser say where; fall back on yaml-rs's words.
        located = Located.parse(path, text)
        if located.problems:
            line, message = located.problems[0]
            raise YamlError(path, line, message) from None
        raise YamlError(path, _yaml_rs_line(str(err)), _yaml_rs_message(str(err))) from None
    # yaml-rs returns a list both for several documents and for one sequence document.
    docs = loaded if isinstance(loaded, list) and _several_documents(text) else [loaded]
    return [doc for doc in docs if doc is not None]


def _several_documents(text: str) -> bool:
    """Does the stream hold more than one document? Counted from the markers, which in
    valid YAML stand at column 0 only as markers: each `---` starts a document, and so
    does content after a `...` end marker or before any marker."""
    if not _DOC_END.search(text):
        starts = len(_DOC_START.findall(text))
        return starts >= 2 or (starts == 1 and _content_before_marker(text))
    documents, open_document = 0, False
    for line in text.splitlines():
        if _DOC_START.match(line):
            documents, open_document = documents + 1, True
        elif _DOC_END.match(line):
            open_document = False
        elif line.strip() and not line.lstrip().startswith(("#", "%")) and not open_document:
            documents, open_document = documents + 1, True
    return documents >= 2


def _content_before_marker(text: str) -> bool:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", "%")):
            return not _DOC_START.match(line)
    return False


def _yaml_rs_line(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


def _yaml_rs_message(message: str) -> str:
    lines = [ln.strip() for ln in message.splitlines() if ln.strip() and not ln.strip().startswith("|")]
    lines = [ln for ln in lines if not re.match(r"^\d+ \|", ln)]
    return lines[-1] if lines else message


# What makes yaml-rs's reading of a text possibly differ from PyYAML's strict one (Located):
# a merge key, a directive, a tab, a line break only one of them knows (anywhere);
_NOT_QUICK = re.compile(r"<<|^%|\t|[\x85\u2028\u2029]", re.MULTILINE)
# ... and outside quoted scalars and comments: a tag, an anchor or an alias (PyYAML refuses
# an anchor defined twice; a tag changes how the strict reader reads a scalar). A quote is
# taken for a scalar's only where a node starts and up to its line's end (a quote inside
# a plain scalar is text); a ` #` outside one is a comment, always.
_QUOTED_OR_COMMENT = re.compile(
    r"""(?:(?<=: )|(?<=- )|(?<=[\[{,])|(?<=, )|^[ ]*)(?:'[^'\n]*(?:''[^'\n]*)*'|"(?:[^"\\\n]|\\.)*")"""
    r"|(?:(?<=\s)|^)#.*", re.MULTILINE)
# ... that is: a tag, an anchor or an alias, a block scalar (the two differ on some
# chompings), a flow entry opening with `:` or `?` (plain
# text to YAML 1.2, refused by PyYAML) or a `:` closing one, an underscore beside a digit
# (yaml-rs reads `_0` as 0), or a number written with a leading zero (octal
# to YAML 1.1, decimal to yaml-rs), in another base or with underscores (yaml-rs reads more
# of them than YAML 1.2 does).
_PLAIN_DOUBT = re.compile(r"(?:^|[\s\[{,:])[!&*|>]|[\[{,]\s*[:?]|:[\]},]|_[0-9]|[0-9]_|(?<![\w.])[-+]?(?:0[0-9box_]|[0-9.][0-9.]*_)", re.MULTILINE)
# Plain text PyYAML resolves to something else (its SafeLoader's implicit resolvers,
# yaml/resolver.py, and the strict reader's YAML 1.2 numbers): such a text read as text by
# yaml-rs may not be text to PyYAML. Quoted, it is text to both, but which it was is not
# known here: either way the quick reading steps aside.
_YAML11_NONTEXT = re.compile(
    r"yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
    r"|[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
    r"|[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"
    r"|<<|~|null|Null|NULL|=|"
    r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:(?:[Tt]|[ \t]+).*)?"
)


def quick_mapping(text: str) -> dict | None:
    """The one mapping `text` holds, read by yaml-rs without importing PyYAML (~9 ms of
    every command that reads a policy), or None when PyYAML's strict reading (`Located`)
    could give anything else: then, and for any error, the caller reads it with `Located`,
    which says where. Never a different value: every text (key or value) that YAML 1.1
    could take for anything but text makes it None, as do the marks above
    (tests/test_yamlfile.py checks it against `Located` on generated texts)."""
    import yaml_rs

    plain = _QUOTED_OR_COMMENT.sub(" ", text)  # the text but its quoted scalars and comments
    if _NOT_QUICK.search(text) or _PLAIN_DOUBT.search(plain) or _several_documents(text):
        return None
    try:
        loaded = yaml_rs.loads(text, parse_datetime=False)
    except Exception:  # noqa: BLE001 - yaml-rs's own errors: Located says where
        return None
    if not isinstance(loaded, dict):
        return None
    stack: list = [loaded]
    seen: set[int] = set()  # an alias is walked once (and a recursive one ends)
    while stack:
        node = stack.pop()
        if isinstance(node, (dict, list)):
            if id(node) in seen:
                continue
            seen.add(id(node))
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str) or _nontext(key, plain):
                    return None
                stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str):
            if _nontext(node, plain):
                return None
        elif node is not None and not isinstance(node, (bool, int, float)):
            return None
    return loaded


def _nontext(value: str, plain: str) -> bool:
    """Could `value` (text to yaml-rs) be something else to PyYAML? Not if it is nowhere in
    the text outside quoted scalars and comments: then it was quoted (`canary: "true"`)."""
    return (bool(_YAML11_NONTEXT.fullmatch(value) or _YAML12_NUMBER.fullmatch(value)) or yaml11_only_nontext(value)) \
        and (not value or value in plain)


@dataclass(frozen=True)
class ScalarInfo:
    line: int
    raw: str  # the scalar as written, without quotes
    plain: bool  # unquoted, so YAML resolved its type


class Located:
    """A parsed file that can say which line a `loc` path is on."""

    def __init__(self, path: Path | str, documents: list[object], nodes: list, problems: list[tuple[int, str]]):
        self.path = path
        self.documents = documents
        self.nodes = nodes
        self.problems = problems  # (line, message): duplicate keys

    @classmethod
    def parse(cls, path: Path | str, text: str) -> "Located":
        """Parse every document; raises YamlError for broken YAML."""
        with bulk():
            return cls._parse(path, text)

    @classmethod
    def _parse(cls, path: Path | str, text: str) -> "Located":
        import yaml

        loader_class = _strict_loader()
        loader = loader_class(text)
        documents, nodes = [], []
        node = None
        try:
            while loader.check_node():
                node = loader.get_node()
                value = loader.construct_document(node) if node is not None else None
                if value is not None:  # as load_documents: empty documents do not count
                    nodes.append(node)
                    documents.append(value)
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark or err.context_mark
            line = mark.line + 1 if mark else None
            raise YamlError(path, line, _pyyaml_message(err)) from None
        except yaml.YAMLError as err:  # the reader's: a character YAML does not allow
            position = getattr(err, "position", None)
            line = text.count("\n", 0, position) + 1 if isinstance(position, int) else 1
            raise YamlError(path, line, "a character YAML does not allow (a control character?)", safe=True) from None
        except (ValueError, TypeError, AttributeError, OverflowError, RecursionError):
            # A tagged scalar its constructor cannot read (`!!float abc`, `!!int x`,
            # `!!timestamp x`): say where and which tag, never the value (a credential?).
            line, tag = _unreadable_tagged_scalar(loader, node)
            raise YamlError(path, line, f"a value tagged {tag} that YAML cannot read as such", safe=True) from None
        finally:
            loader.dispose()
        return cls(path, documents, nodes, loader.duplicate_keys)

    def _walk(self, doc: int, loc: Loc):
        """The deepest node on `loc`, and the key node that led to it (if any)."""
        from yaml.nodes import MappingNode, ScalarNode, SequenceNode

        if doc >= len(self.nodes):
            return None, None
        node, key_node = self.nodes[doc], None
        for part in loc:
            if isinstance(node, MappingNode):
                for k, v in node.value:
                    if isinstance(k, ScalarNode) and k.value == str(part):
                        node, key_node = v, k
                        break
                else:
                    continue  # a discriminator tag or a missing field: stay here
            elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
                node, key_node = node.value[part], None
            else:
                continue
        return node, key_node

    def line(self, loc: Loc, doc: int = 0) -> int | None:
        node, key_node = self._walk(doc, loc)
        if node is None:
            return None
        return (key_node or node).start_mark.line + 1

    def scalar(self, loc: Loc, doc: int = 0) -> ScalarInfo | None:
        from yaml.nodes import ScalarNode

        node, _ = self._walk(doc, loc)
        if not isinstance(node, ScalarNode):
            return None
        return ScalarInfo(node.start_mark.line + 1, node.value, not node.style)  # C parser: '', Python: None


def _unreadable_tagged_scalar(loader, root) -> tuple[int, str]:
    """(line, tag) of the first scalar under `root` whose constructor fails."""
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ScalarNode):
            constructor = loader.yaml_constructors.get(node.tag)
            try:
                if constructor is not None:
                    constructor(loader, node)
            except Exception:  # noqa: BLE001 - any failure is the answer
                return node.start_mark.line + 1, node.tag.replace("tag:yaml.org,2002:", "!!")
        elif isinstance(node, MappingNode):
            for key, value in reversed(node.value):
                stack += [value, key]
        elif isinstance(node, SequenceNode):
            stack += list(reversed(node.value))
    return (root.start_mark.line + 1 if root is not None else 1), "with a tag"


def _pyyaml_message(err) -> str:
    parts = [err.context, err.problem]
    return ": ".join(p for p in parts if p) or "broken YAML"


_LOADER = None


def _strict_loader():
    """A PyYAML SafeLoader that records duplicate keys and reads YAML-1.2-only numbers
    (`1e3`, `0o17`) as numbers, so a plain scalar is text only if both versions agree."""
    global _LOADER
    if _LOADER is not None:
        return _LOADER
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class StrictLoader(base):  # type: ignore[misc, valid-type]
        def __init__(self, stream):
            super().__init__(stream)
            self.duplicate_keys: list[tuple[int, str]] = []

        def construct_mapping(self, node, deep=False):
            seen: set = set()
            for key_node, _ in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                if key is not None and key in seen:
                    self.duplicate_keys.append((key_node.start_mark.line + 1, f"duplicate key {key!r}"))
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

        def construct_yaml_str(self, node):
            value = super().construct_yaml_str(node)
            if not node.style and _YAML12_NUMBER.fullmatch(value):
                try:
                    return int(value, 0) if value[:2] in ("0o", "0x") else float(value)
                except ValueError:
                    return value
            return value

    StrictLoader.add_constructor("tag:yaml.org,2002:str", StrictLoader.construct_yaml_str)
    _LOADER = StrictLoader
    return _LOADER
