"""waves/trust.py, the pure rules of spec.trust: properties over every action and every
signature status git can report, and the chain of changes to the policy and its signers."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from conftest import examples
from waves.state import Event
from waves.trust import (POLICY, RELEASING, STOPPING, Change, Signature, TrustSpec, admits, allowed_signers,
                         screen, walk)

STATUSES = ("G", "U", "N", "B", "E", "X", "Y", "R", "T")
TRUST = TrustSpec(allowedSigners=".rollout/allowed_signers", approvers=("alice@example.com",))
signatures = st.builds(Signature, commit=st.just("c"), status=st.sampled_from(STATUSES),
                       principal=st.sampled_from([None, "alice@example.com", "bot@example.com"]))


@settings(max_examples=examples(300))
@given(action=st.sampled_from(RELEASING + STOPPING), signature=signatures)
def test_only_a_good_signature_releases_and_a_stop_always_counts(action, signature):
    why = admits(action, signature, TRUST)
    if action in STOPPING:
        assert why is None
    elif not signature.good:
        assert why is not None and "must be signed by an allowed signer" in why
    elif action == "approve":
        assert (why is None) == (signature.principal == "alice@example.com")
    else:
        assert why is None


@settings(max_examples=examples(200))
@given(by=st.text(min_size=1, max_size=20), signature=signatures)
def test_an_approval_that_counts_names_its_signer_never_by(by, signature):
    event = Event("c", 0, "approve", "p", "v1", "canary", by=by)
    kept, ignored, _ = screen([event], {"c": signature}, {"c": TRUST})
    if kept:
        assert kept[0].by == signature.principal == "alice@example.com"
    else:
        assert [i.commit for i in ignored] == ["c"]


S = ".rollout/allowed_signers"


def chain(*steps):
    """Changes from (commit, {file: blob} it changed, signed?), the blobs carried forward."""
    blobs, changes, signed = {POLICY: None, S: None}, [], {}
    for commit, changed, good in steps:
        blobs = {**blobs, **changed}
        changes.append(Change(commit, dict(blobs), frozenset(changed)))
        signed[commit] = "G" if good else "N"
    return changes, signed


def test_the_chain_keeps_what_was_in_force_until_a_signer_signs_after_an_unsigned_change():
    weaker = TrustSpec(allowedSigners=S, approvers=("mallory@example.com",))
    policies = {"p1": TRUST, "p2": weaker, "p3": None, "p4": TRUST}
    changes, signed = chain(("a", {POLICY: "p1", S: "s1"}, False), ("b", {POLICY: "p2", S: "s2"}, False),
                            ("c", {POLICY: "p3"}, True), ("d", {POLICY: "p4", S: "s3"}, True))
    seen = []

    def verdict(change, state):
        seen.append((change.commit, state.signers))
        return Signature(change.commit, signed[change.commit], "alice@example.com")

    after = walk(changes, policies.get, verdict)
    assert [(s.trust, s.signers, s.since) for s in after] == [
        (TRUST, "s1", "a"), (TRUST, "s1", "a"), (None, None, "c"), (TRUST, "s3", "d")]
    assert after[1].untrusted.commit == "b"
    # a signed c that only dropped trust sets the policy, not b's allowed signers: it is b's that stand
    assert after[2].untrusted is None and after[3].untrusted is None
    # introducing trust (a, and d once a signed c removed it) needs no signature; b and c are checked
    # against what was in force before them
    assert seen == [("b", "s1"), ("c", "s1")]


def test_a_signed_change_of_one_file_does_not_adopt_an_unsigned_edit_of_another():
    """A pusher adds their key unsigned; a signer's routine policy tweak later must not make it count."""
    policies = {"p1": TRUST, "p2": TRUST}
    changes, signed = chain(("a", {POLICY: "p1", S: "s1"}, True), ("b", {S: "s1+mallory"}, False),
                            ("c", {POLICY: "p2"}, True), ("d", {S: "s1"}, True))
    after = walk(changes, policies.get, lambda change, state: Signature(change.commit, signed[change.commit], "alice"))
    assert [s.signers for s in after] == ["s1", "s1", "s1", "s1"]
    assert [s.untrusted.commit if s.untrusted else None for s in after] == [None, "b", "b", None]
    assert after[2].blobs[POLICY] == "p2"  # what c changed counts


def test_trust_added_before_its_allowed_signers_file_is_introduced_with_the_file():
    changes, signed = chain(("a", {POLICY: "p1"}, False), ("b", {S: "s1"}, False), ("c", {S: "s2"}, False))
    after = walk(changes, {"p1": TRUST}.get, lambda change, state: Signature(change.commit, signed[change.commit]))
    assert [(s.signers, s.untrusted is None) for s in after] == [(None, True), ("s1", True), ("s1", False)]


def test_allowed_signers_principals_and_bad_lines():
    text = ('# the CI bot\nbot@example.com namespaces="git" ssh-ed25519 AAAAC3Nz bot\n'
            'alice@example.com,a@example.com ssh-ed25519 AAAAC3Nz\n\nnonsense line\n')
    principals, problems = allowed_signers(text)
    assert principals == {"bot@example.com": 2, "alice@example.com": 3, "a@example.com": 3}
    assert [line for line, _ in problems] == [5]


FORGED = TrustSpec(allowedSigners="s", approvers=("alice@example.com", "github:alice"), forges=("web-flow@github.com",))


@settings(max_examples=examples(200))
@given(named=st.sampled_from([None, "github:alice", "github:mallory", "alice@example.com"]),
       principal=st.sampled_from(["web-flow@github.com", "alice@example.com", "bot@example.com"]))
def test_an_approval_in_a_forge_merge_counts_for_its_reviewer_when_an_approver(named, principal):
    event = Event("c", 0, "approve", "p", "v1", "canary", by=named)
    kept, _, _ = screen([event], {"c": Signature("c", "G", principal)}, {"c": FORGED})
    if principal == "web-flow@github.com":  # the forge's merge: the reviewer it names, never the forge
        assert [e.by for e in kept] == ([named] if named in FORGED.approvers else [])
    else:  # a signed `rollout approve`: the signer, whatever it names
        assert [e.by for e in kept] == ([principal] if principal in FORGED.approvers else [])
