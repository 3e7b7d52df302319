"""The editor's promise, as a property over generated YAML: for every style a manifest may
be written in (block/flow, plain/quoted/folded scalars, comments, anchors and tags, a byte-order
mark, CRLF, several documents, no final newline, non-ASCII and tabs before the scalar),
pinning any text either refuses with a reason or writes a file that a *different* YAML
reader (PyYAML's pure-Python BaseLoader) reads as exactly the old data with the one field
changed; pinning the old value back restores every byte."""

from __future__ import annotations

import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from conftest import examples
from rollout.manifests.edit import PinError, pin_text
from waves.pins import PinSpec
from waves.pins.yaml_field import parse_field_path

PIN = TypeAdapter(PinSpec)
BOM = "\ufeff"

OLD_VALUES = ["v1.2.3", "main", "1.20", "naïve-1", "a b", "sha256:ab12"]
SCALAR_STYLES = ["plain", "single", "double", "folded", "literal"]
CONTAINERS = ["block-map", "flow-map", "block-seq", "flow-seq", "absent-block", "absent-flow"]
ANCHORS = ["none", "unused", "aliased-scalar", "aliased-parent", "unrelated"]


def scalar(value: str, style: str, indent: int) -> str:
    if style == "single":
        return "'" + value.replace("'", "''") + "'"
    if style == "double":
        return '"' + value + '"'
    if style in ("folded", "literal"):
        return (">-" if style == "folded" else "|-") + "\n" + " " * indent + value
    return value


@st.composite
def manifests(draw):
    """(text, yaml-field path, what must happen: 'edit' or a refusal's words)."""
    container = draw(st.sampled_from(CONTAINERS))
    flow = "flow" in container
    styles = ["plain", "single", "double"] if flow or "absent" in container else SCALAR_STYLES
    style = draw(st.sampled_from(styles))
    old = draw(st.sampled_from(OLD_VALUES))
    if style == "plain" and (old == "1.20" or (flow and " " in old)):
        style = "double"
    anchor = draw(st.sampled_from(ANCHORS if "absent" not in container else ["none", "unrelated", "aliased-parent"]))
    if container == "flow-seq" and anchor == "aliased-parent":
        anchor = "aliased-scalar"
    comment = draw(st.sampled_from(["", " # pinned", " #\ttab, ünïcode 😀", "  # two spaces"]))
    leading = draw(st.sampled_from(["", "# header\n", "# tab\there é\n", "%YAML 1.1\n---\n", "---\n"]))
    name = draw(st.sampled_from(["app", "ünïcode-😀", "'quoted'"]))

    tag_anchor = ("&t " if anchor in ("unused", "aliased-scalar") else "") + draw(st.sampled_from(["", "!!str "]))
    parent_anchor = "&p " if anchor == "aliased-parent" else ""
    lines = [f"kind: Thing", f"metadata: {{name: {name}}}  # é", "spec:"]
    if anchor == "unrelated":
        lines.append("  labels: &l {team: a}")
    if container == "block-map":
        lines += [f"  image: {parent_anchor}", f"    tag: {tag_anchor}{scalar(old, style, 6)}{comment}", "    other: 1"]
        field = "spec.image.tag"
    elif container == "flow-map":
        lines += [f"  image: {parent_anchor}{{other: 1, tag: {tag_anchor}{scalar(old, style, 0)}}}{comment}"]
        field = "spec.image.tag"
    elif container == "block-seq":
        lines += [f"  images: {parent_anchor}", "    - name: a", f"      tag: {tag_anchor}{scalar(old, style, 8)}{comment}",
                  "    - name: b", "      tag: x"]
        field = "spec.images[name=a].tag"
    elif container == "flow-seq":
        lines += [f"  args: [x, {tag_anchor}{scalar(old, style, 0)}, y]{comment}"]
        field = "spec.args[1]"
    elif container == "absent-block":
        lines += [f"  image: {parent_anchor}", f"    other: 1{comment}"]
        field = "spec.image.tag"
    else:
        lines += [f"  image: {parent_anchor}{{other: 1}}{comment}"]
        field = "spec.image.tag"
    if anchor == "aliased-scalar":
        lines.append("  copy: *t")
    elif anchor == "aliased-parent":
        lines.append("  copy: *p")
    elif anchor == "unrelated":
        lines.append("  more: *l")
    lines.append("  last: end")
    text = leading + "\n".join(lines) + "\n"
    if draw(st.booleans()):
        text = "kind: Other\nspec: {image: {tag: other}}\n---\n" + (text[4:] if text.startswith("---\n") else text) \
            if not leading.startswith("%") else text
    if draw(st.booleans()):
        text += "---\n# another document\nkind: Other\nspec:\n  image:\n    tag: other\n"
    if draw(st.booleans()):
        text = text.rstrip("\n")
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    if draw(st.booleans()):
        text = BOM + text
    if anchor in ("aliased-scalar", "aliased-parent"):
        expect = "&"
    elif style in ("folded", "literal"):
        expect = "block scalar"
    else:
        expect = "edit"
    return text, field, expect


def _absent(documents: list, field: str) -> bool:
    doc = next((d for d in documents if d.get("kind") == "Thing"), documents[0])
    *path, last = parse_field_path(field)
    for step in path:
        doc = doc[step] if not isinstance(step, tuple) else next(i for i in doc if i.get(step[0]) == step[1])
    return last >= len(doc) if isinstance(last, int) else last not in doc


def read(text: str) -> list:
    """An independent reader: pure-Python PyYAML, every scalar as text."""
    return [d for d in yaml.load_all(text, Loader=yaml.BaseLoader) if d is not None]


def changed(documents: list, field: str, value: str | None) -> list:
    """`documents` with the resolved `field` (e.g. spec.images[0].tag) set (None: removed)."""
    import copy

    documents = copy.deepcopy(documents)
    doc = next((d for d in documents if d.get("kind") == "Thing"), documents[0])
    *path, last = parse_field_path(field)
    for step in path:
        doc = doc[step]
    if value is None:
        del doc[last]
    else:
        doc[last] = value
    return documents


VALUES = st.one_of(
    st.sampled_from(["v2.0.0", "1.20", "yes", "null", "", "a, b", "x]", "{y}", "#z", "a: b", "it's", 'say "hi"',
                     "  padded ", "tab\there", "line\nbreak", "é😀", "*alias", "&anchor", "- dash", "~", "v1.2.3"]),
    st.text(max_size=12),
)


@settings(max_examples=examples(400), deadline=None)
@given(manifests(), VALUES, st.booleans())
@example(("\ufefftag: old\n", "tag", "edit"), "new", False)  # the reported corruption: "\ufefftag:newd"
@example(("\ufeffimages:\n- name: x\n  newTag: v2.12.0\n", "images[name=x].newTag", "edit"), "v2.13.0", False)
@example(("kind: Thing\nmetadata: {name: app}\nspec:\n  image: {other: 1, tag: v1.2.3}\n  last: end\n", "spec.image.tag",
          "edit"), "0?", False)  # written plain in a flow mapping, PyYAML could not read `{tag: 0?}` back
@example(("kind: Thing\nspec:\n  image:\n    other: 1\n  last: end\n", "spec.image.tag", "edit"), "v2", False)
def test_any_value_in_any_style_is_written_exactly_or_refused(case, value, create):
    text, field, expect = case
    spec = {"files": "x.yaml", "preset": "yaml-field", "field": field, "create": create}
    if "kind: Thing" in text:
        spec["kind"] = "Thing"
    pin = PIN.validate_python(spec)
    if not create and _absent(read(text), field):
        expect = "create: true"  # no silent creation: a missing key is refused without it
    try:
        result = pin_text(text, pin, "c1", {}, value, "x.yaml")
    except PinError as err:
        assert expect != "edit", f"refused an editable field: {err.message}"
        assert expect in err.message and err.line is not None
        return
    if expect != "edit":  # a field it cannot write may still hold the value already: nothing to write
        assert result.text == text and result.old == value, f"expected a refusal ({expect}), got an edit"
        return
    after = result.text
    # What another YAML reader sees: the old data with exactly this field changed.
    assert read(after) == changed(read(text), result.field, value)
    assert after.startswith(BOM) == text.startswith(BOM)
    for kept in ("&t ", "!!str ", "# pinned", "#\ttab", "&l ", "*l", "%YAML", "# another document"):
        assert after.count(kept) >= text.count(kept), f"{kept!r} lost"
    if "\r\n" in text:
        assert "\n" not in after.replace("\r\n", "")
    # Pinning the same value again changes nothing; pinning the old one back restores every byte.
    assert pin_text(after, pin, "c1", {}, value, "x.yaml").text == after
    assert pin_text(after, pin, "c1", {}, result.old, "x.yaml", raw=result.old_raw).text == text


def test_bom_offsets_are_those_of_the_text_after_the_mark():
    pin = PIN.validate_python({"files": "k.yaml", "preset": "kustomize-image", "image": "x"})
    text = "\ufeffimages:\n- name: x\n  newTag: v2.12.0 # é\n"
    result = pin_text(text, pin, "c1", {}, "v2.13.0")
    assert result.text == "\ufeffimages:\n- name: x\n  newTag: v2.13.0 # é\n"
    assert pin_text(result.text, pin, "c1", {}, result.old, raw=result.old_raw).text == text
