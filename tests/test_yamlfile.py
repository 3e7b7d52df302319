"""yaml-rs's quick reading of a policy (`quick_mapping`) is PyYAML's strict one (`Located`)
or nothing: never another value, never a text `Located` refuses."""

from __future__ import annotations

import math
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollout.yamlfile import Located, YamlError, quick_mapping

ROOT = Path(__file__).resolve().parent.parent

# Plain scalars on which YAML 1.1 (PyYAML), YAML 1.2 and yaml-rs part ways, and plain ones.
TRICKY = [
    "yes", "No", "on", "OFF", "y", "n", "true", "False", "TRUE", "null", "Null", "NULL", "~", "",
    "010", "08", "0", "-0", "00", "+1", "0o17", "0x1F", "+0x1F", "0x_1", "0b101", "1_000", "1_000.5",
    "1e3", "1E3", "1.5e3", "1.5e+3", ".5", "-.5", "1.", "12e03", ".inf", "-.Inf", ".NaN", "1:30", "190:20:30",
    "2026-12-06", "2026-12-06T10:00:00Z", "=", "<<", "v1.2.3", "1.2.3", "1.20", "6443", "main", "a b",
    "apps/*/values.yaml", "status!=\"200\"", "!!str 12", "!!int 7", "&a x", "http://x:80/", "-", "- x",
    "#x", "a#b", "a: b", "'q'", "\"d\"", "é", "\u2028", "\t", "%x", "b 'c", "it's", "x #true", "true #c",
    "0 9 * * 1-4", "[a, yes]", "{a: 010}", "[b 'c, !!set d']", "a *b", "a &b", "09:00", "1.2_3",
    "inf", "nan", "+inf", "__1", "1.0e1_0", "+.5", "0e0", "-0.0", "1e+", "0.", "١",
]
WORDS = st.text(alphabet=st.sampled_from("abcxyz019._-:/ *&!#=+~"), min_size=0, max_size=8)


def _scalar(token: str, style: str) -> str:
    if style == "single":
        return "'" + token.replace("'", "''") + "'"
    if style == "double":
        return '"' + token.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return token


scalars = st.builds(_scalar, st.one_of(st.sampled_from(TRICKY), WORDS),
                    st.sampled_from(["plain", "plain", "single", "double"]))
keys = st.one_of(st.sampled_from(["spec", "revision", "on", "yes", "1", "010", "<<", "a", "b", "name"]), WORDS)


@st.composite
def documents(draw, depth: int = 0) -> str:
    """A block mapping of scalars, flow lists and nested block mappings (indented text)."""
    lines = []
    for key in draw(st.lists(keys, min_size=1, max_size=4)):
        kind = draw(st.sampled_from(["scalar", "scalar", "flow", "map"] if depth < 2 else ["scalar", "flow"]))
        comment = draw(st.sampled_from(["", "", "  # " + draw(st.sampled_from(TRICKY))]))
        if kind == "scalar":
            lines.append(f"{key}: {draw(scalars)}{comment}")
        elif kind == "flow":
            lines.append(f"{key}: [{', '.join(draw(st.lists(scalars, max_size=3)))}]")
        else:
            inner = draw(documents(depth + 1))
            lines.append(f"{key}:\n" + "\n".join("  " + line for line in inner.splitlines()))
    return "\n".join(lines) + "\n"


def same(a, b) -> bool:
    """Equal and of the same types all the way down (1 == True == 1.0 in Python)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def strict(text: str):
    """What `Located` reads, or None where it refuses the text or finds a problem."""
    try:
        located = Located.parse("p.yaml", text)
    except YamlError:
        return None
    if located.problems or len(located.documents) != 1:
        return None
    return located.documents[0]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_a_quick_reading_is_the_strict_one_or_none(text):
    quick = quick_mapping(text)
    if quick is not None:
        slow = strict(text)
        assert slow is not None, f"yaml-rs read a text PyYAML refuses: {text!r}"
        assert same(quick, slow), f"{text!r}: yaml-rs {quick!r}, PyYAML {slow!r}"


def test_the_tricky_scalars_one_by_one():
    for token in TRICKY:
        for style in ("plain", "single", "double"):
            text = f"a: {_scalar(token, style)}\nb: [{_scalar(token, style)}]\n{_scalar(token, style)}: c\n"
            quick = quick_mapping(text)
            assert quick is None or same(quick, strict(text)), text


def test_what_is_refused_or_doubtful_is_left_to_located():
    for text in ("a: 1\na: 2\n",  # a duplicate key: Located names its line
                 "a: [1\n",  # broken
                 "a: 1\n---\nb: 2\n",  # two documents
                 "- a\n- b\n",  # not a mapping
                 "a: 010\n", "a: yes\n", "on: x\n", "a: 2026-12-06\n", "a: !!str 12\n", "<<: {a: 1}\n",
                 "a: &x [*x]\n"):
        assert quick_mapping(text) is None, text


def test_the_bundled_policies_are_read_quickly_and_the_same():
    """The fast path is the one taken in practice: every policy under examples/ reads
    quickly (or is one whose text needs PyYAML, named here), and as Located reads it."""
    policies = sorted(ROOT.glob("examples/**/rollouts/*.y*ml"))
    assert len(policies) >= 4
    quick = 0
    for path in policies:
        text = path.read_text()
        found = quick_mapping(text)
        if found is not None:
            quick += 1
            assert same(found, strict(text)), path
    assert quick >= len(policies) * 3 // 4, f"only {quick} of {len(policies)} policies read quickly"


# Raw texts in YAML's own marks: the grammar's corners, where yaml-rs (YAML 1.2, and
# lenient in places: `_0` is 0 to it) and PyYAML (1.1) part ways. Run big by hand with
# max_examples=20000 (80,000 texts passed when this was written).
MARKS = st.sampled_from(list("-:[]{},#'\"!&*|>? \n\nab01._e+~yno")
                        + ["  ", "\n  ", ": ", "- ", "a: ", "true", "0x", "1.5", "\\"])


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(["a: ", "", "a:\n  ", "- ", "a:\n- ", "{", "a: [", "? "]),
       st.lists(MARKS, max_size=30).map("".join))
def test_raw_texts_read_quickly_are_read_the_same(start, rest):
    text = start + rest + "\n"
    quick = quick_mapping(text)
    if quick is not None:
        slow = strict(text)
        assert slow is not None, f"yaml-rs read a text PyYAML refuses: {text!r}"
        assert same(quick, slow), f"{text!r}: yaml-rs {quick!r}, PyYAML {slow!r}"
