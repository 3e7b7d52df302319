"""Repository and API server URLs compared as what they point at."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollout.targeting.urls import _server_key_parsed, all_keyed, repo_key, server_key, split_remote

SAME_REPO = [
    "https://github.com/example-org/fleet-config.git",
    "https://github.com/example-org/fleet-config",
    "https://github.com/example-org/fleet-config/",
    "http://GitHub.com/example-org/fleet-config.git",
    "https://ci-bot@github.com/example-org/fleet-config",
    "https://github.com:443/example-org/fleet-config",
    "git@github.com:example-org/fleet-config.git",
    "git@GITHUB.COM:example-org/fleet-config",
    "ssh://git@github.com/example-org/fleet-config",
    "ssh://git@github.com:22/example-org/fleet-config.git",
    "git://github.com/example-org/fleet-config.git",
]


@pytest.mark.parametrize("url", SAME_REPO)
def test_spellings_of_one_repository_are_one_key(url):
    assert repo_key(url) == "github.com/example-org/fleet-config"


@pytest.mark.parametrize("other", [
    "https://github.com/example-org/fleet-config-old",
    "https://github.com/other-org/fleet-config",
    "https://gitlab.com/example-org/fleet-config",
    "ssh://git@github.com:2222/example-org/fleet-config",
    "https://github.com/example-org/fleet-config/subdir",
])
def test_other_repositories_differ(other):
    assert repo_key(other) != repo_key(SAME_REPO[0])


def test_local_paths_and_file_urls_are_the_absolute_path(tmp_path):
    bare = tmp_path / "remote.git"
    assert repo_key(str(bare)) == repo_key(f"file://{bare}") == repo_key(f"{bare}/") == str(tmp_path / "remote")


@pytest.mark.parametrize("url", [
    "https://prod.example.com:6443", "https://PROD.example.com:6443/", "HTTPS://prod.example.com:6443//",
])
def test_server_spellings(url):
    assert server_key(url) == "https://prod.example.com:6443"


def test_server_default_ports_and_missing_scheme():
    assert server_key("https://prod.example.com:443/") == server_key("prod.example.com") == "https://prod.example.com"
    assert server_key("http://prod.example.com:80") == "http://prod.example.com"
    assert server_key("https://prod.example.com:6443") != server_key("https://prod.example.com")
    assert server_key("https://prod.example.com/k8s/clusters/c-1") != server_key("https://prod.example.com/k8s/clusters/c-2")


hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5}){1,2}", fullmatch=True)
segments = st.lists(st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,8}", fullmatch=True)
                    .filter(lambda s: not s.endswith(".git") and s not in (".", "..")), min_size=1, max_size=3)


@given(hosts, segments, st.sampled_from(["https://", "http://", "ssh://git@", "https://u@", "scp"]),
       st.booleans(), st.booleans(), st.booleans())
def test_repo_key_ignores_scheme_user_suffix_slash_and_host_case(host, path, form, dot_git, slash, upper):
    written_host = host.upper() if upper else host
    tail = "/".join(path) + (".git" if dot_git else "") + ("/" if slash and form != "scp" else "")
    url = f"git@{written_host}:{tail}" if form == "scp" else f"{form}{written_host}/{tail}"
    assert repo_key(url) == repo_key(f"https://{host}/{'/'.join(path)}") == f"{host}/{'/'.join(path)}"


@given(hosts, st.sampled_from([None, 443, 6443]), st.booleans(), st.booleans())
def test_server_key_is_idempotent_and_ignores_spelling(host, port, upper, slash):
    written = f"https://{host.upper() if upper else host}{'' if port is None else f':{port}'}{'/' if slash else ''}"
    key = server_key(written)
    assert server_key(key) == key
    assert key == (f"https://{host}:6443" if port == 6443 else f"https://{host}")


@pytest.mark.parametrize("ref, repo, folder", [
    ("https://github.com/org/repo//deploy/eu?ref=v1", "https://github.com/org/repo", "deploy/eu"),
    ("git@github.com:org/repo.git//deploy", "git@github.com:org/repo.git", "deploy"),
    ("git@github.com:org/repo/deploy", "git@github.com:org/repo", "deploy"),
    ("github.com/org/repo/deploy?ref=v1", "https://github.com/org/repo", "deploy"),
    ("github.com/org/repo", "https://github.com/org/repo", "."),
    ("https://github.com/org/repo.git/deploy", "https://github.com/org/repo.git", "deploy"),
    ("ssh://git@github.com/org/repo//a/b/", "ssh://git@github.com/org/repo", "a/b"),
    ("git::https://gitlab.com/o/r//p?ref=1", "https://gitlab.com/o/r", "p"),
])
def test_kustomize_remote_references_split_into_repository_and_folder(ref, repo, folder):
    assert split_remote(ref) == (repo, folder)
    assert repo_key(split_remote(ref)[0]).endswith(("org/repo", "o/r"))


@given(st.sampled_from(["https", "HTTPS", "http"]), hosts, st.sampled_from([None, 80, 443, 6443, 8443]),
       st.sampled_from(["", "/", "/k8s/clusters/c-1", "/k8s/clusters/c-1/"]), st.booleans())
def test_the_fast_server_path_agrees_with_the_parsed_one(scheme, host, port, path, upper):
    url = f"{scheme}://{host.upper() if upper else host}{'' if port is None else f':{port}'}{path}"
    assert server_key(url) == _server_key_parsed(url)


def test_ipv6_servers_keep_their_brackets():
    assert server_key("https://[::1]:6443/") == "https://[::1]:6443"


# Servers as inventories spell them (each part as its key writes it), and near misses
# (one part not): case, default and zero-led ports, trailing slashes and spaces, Unicode
# look-alikes, digits and spaces, newlines, queries, other schemes.
_KEYED_PARTS = (["https://", "http://"], ["prod.example.com", "10.0.0.1", "a-b", "x.y-z.k8s.io"],
                ["", ":6443", ":0", ":8080", ":99999"], ["", "/k8s/clusters/c-1", "/a b", "/\u00e9", "/a//b"])
_MISSES = (["HTTPS://", "Http://", "ssh://", "", " https://", "https:/"],
           ["Prod.example.com", "\u212a8s.io", "[::1]", "h\u0131", "x_y", "a b", "prod.example.com."],
           [":443", ":80", ":0443", ":", ":\u0666443", ":08080"],
           ["/", "/k8s/clusters/c-1/", "/a\n", "/x?y", "/x ", "/x\u00a0", "//", "/a#b", "/u@h"])


@st.composite
def _servers(draw):
    miss = draw(st.integers(0, len(_KEYED_PARTS)))  # the part spelled otherwise; the last: none
    return "".join(draw(st.sampled_from(_MISSES[i] if i == miss else _KEYED_PARTS[i])) for i in range(len(_KEYED_PARTS)))


def test_each_spelling_found_keyed_is_its_own_key():
    """Every server of the parts above with at most one part missed (~1,700): those
    all_keyed finds are their own server_key, and the usual ones (no part missed) all are."""
    import itertools

    spelled, usual = set(), set()
    for miss in range(len(_KEYED_PARTS) + 1):
        parts = [_MISSES[i] if i == miss else _KEYED_PARTS[i] for i in range(len(_KEYED_PARTS))]
        (usual if miss == len(_KEYED_PARTS) else spelled).update("".join(p) for p in itertools.product(*parts))
    keyed = {s for s in spelled | usual if all_keyed([s])}
    assert all(server_key(s) == s for s in keyed)
    assert usual <= keyed and len(usual) == 200


@given(st.lists(_servers(), max_size=4))
def test_servers_found_all_keyed_are_their_own_keys(servers):
    """inventory/duplicates.py compares such servers as text: it must be what comparing
    their keys says (the one-by-one path takes every list all_keyed refuses)."""
    if all_keyed(servers):
        assert all(server_key(s) == s for s in servers)
    assert all_keyed(servers) == (bool(servers) and all(all_keyed([s]) for s in servers))


@given(hosts, st.sampled_from([None, 6443, 8443, 0]), st.sampled_from(["", "/k8s/clusters/c-1"]),
       st.sampled_from(["https", "http"]))
def test_the_usual_servers_are_found_all_keyed(host, port, path, scheme):
    url = f"{scheme}://{host}{'' if port is None else f':{port}'}{path}"
    assert all_keyed([url, url]) and server_key(url) == url


@pytest.mark.parametrize("spelled, same", [
    ("https://b\u00fccher.example:6443", "https://xn--bcher-kva.example:6443"),
    ("https://B\u00dcCHER.example/", "https://xn--bcher-kva.example"),
    ("https://\u4f8b\u3048.\u30c6\u30b9\u30c8", "https://xn--r8jz45g.xn--zckzah"),
    ("https://\u212a8s.example", "https://k8s.example"),  # the Kelvin sign: NFKC's k, as before
])
def test_a_host_in_unicode_is_the_server_its_punycode_names(spelled, same):
    """One API server spelled in Unicode in one inventory and in punycode in another is one
    cluster (duplicates: two cluster names for it are refused)."""
    assert server_key(spelled) == server_key(same) == same


@pytest.mark.parametrize("spelled, same", [
    ("https://prod.example.com.:6443", "https://prod.example.com:6443"),
    ("https://Prod.Example.COM./", "https://prod.example.com"),
    ("https://b\u00fccher.example.", "https://xn--bcher-kva.example"),
    ("prod.example.com.", "https://prod.example.com"),
])
def test_a_fully_qualified_host_is_the_server_without_its_root_dot(spelled, same):
    """`a.example.` (the root's dot written out, as a kubeconfig may) and `a.example` are one
    name to DNS: one cluster, so two names for it are refused as for any other spelling."""
    assert server_key(spelled) == server_key(same) == same
    assert not all_keyed([spelled])  # never compared as text


def test_a_host_idna_2003_would_map_is_left_as_written():
    """IDNA 2003 reads `stra\u00dfe` as `strasse`: two domains under IDNA 2008, never made one."""
    assert server_key("https://stra\u00dfe.example") != server_key("https://strasse.example")
    assert server_key("https://\u017f.example") != server_key("https://s.example")
