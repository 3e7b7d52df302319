"""waves/trust.py, the pure rules of spec.trust: properties over every action and every
signature status git can report, and the chain of changes to the policy and its signers."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from conftest import examples
from waves.state import Event
from waves.trust import RELEASING, STOPPING, Change, Signature, TrustSpec, admits, allowed_signers, screen, walk

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


def test_the_chain_keeps_what_was_in_force_until_a_signer_signs_after_an_unsigned_change():
    weaker = TrustSpec(allowedSigners=".rollout/allowed_signers", approvers=("mallory@example.com",))
    changes = [Change("a", TRUST, "s1"), Change("b", weaker, "s2"), Change("c", None, "s2"), Change("d", TRUST, "s3")]
    signed = {"a": "N", "b": "N", "c": "G", "d": "G"}
    seen = []

    def verdict(change, state):
        seen.append((change.commit, state.signers))
        return Signature(change.commit, signed[change.commit], "alice@example.com")

    after = walk(changes, verdict)
    assert [(s.trust, s.signers, s.since) for s in after] == [
        (TRUST, "s1", "a"), (TRUST, "s1", "a"), (None, "s2", "c"), (TRUST, "s3", "d")]
    assert after[1].untrusted.commit == "b" and after[2].untrusted is None
    # introducing trust (a, and d once a signed c removed it) needs no signature; each other change is
    # checked against what was in force before it
    assert seen == [("b", "s1"), ("c", "s1")]


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
