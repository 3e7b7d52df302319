"""The Kubernetes side of the observers: the kubeconfig, read once, clients per context,
and LISTs that tell an unreachable API (pending, or unknown when nothing answers) from an
operator's set-up error (SetupError: exit 2).

The kubeconfig is parsed once (orjson when it is JSON, as kubectl and the simulator write
it: ~4x faster than yaml-rs; else yaml-rs) and each context's client is built by the
client's own loader from that context's entries alone: the loader re-reads the file with
pure-Python YAML for every client (~0.7 s a time with 1,000 contexts), and given the whole
file it searches each list from the top (quadratic in the contexts). LISTs to many contexts
run on a bounded thread pool; a LIST's body is decoded once, from the raw bytes.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

from rollout.observers import SetupError

MAX_PARALLEL = 16  # concurrent API requests: enough for 1,000 contexts in about a second
TIMEOUT = 10  # seconds for one LIST


class Kube:
    def __init__(self, kubeconfig: str | None):
        self.flag = kubeconfig
        self._data: dict | None = None
        self._index: dict[str, dict] | None = None  # section -> name -> its entries (_entries)
        self._base = "."
        self._path: str | None = None
        self._apis: dict[str | None, object] = {}  # context -> its kubernetes.client.ApiClient
        self._in_cluster: bool | None = None
        self._listed: dict[tuple, tuple[dict | None, str] | Future] = {}  # for one evaluation: forget() between steps
        self._refused: set[str | None] = set()  # contexts that refused our credentials in those LISTs

    def forget(self) -> None:
        """Drop what was listed: the next evaluation sees the fleet anew."""
        self._listed.clear()
        self._refused.clear()

    def refused(self, context: str | None) -> bool:
        """Whether the context refused our credentials in a LIST of this evaluation."""
        return context in self._refused

    def check_access(self, context: str | None, group: str, version: str, namespace: str, plural: str,
                     who: str) -> None:
        """Before a wave goes out: the context answers us a LIST, or refuses our credentials
        (a set-up error, exit 2, nothing written). Unreachable is no set-up error."""
        items, why = self.list(context, group, version, namespace, plural)
        if items is None and context in self._refused:
            raise SetupError(f"{who}: {why}: fix the kubeconfig's user or RBAC")

    # --- the kubeconfig -----------------------------------------------------------------
    def _where(self) -> tuple[str | None, str]:
        """(path, how it was named) of the kubeconfig to read; None: several files."""
        if self.flag is not None:
            return self.flag, f"--kubeconfig {self.flag}"
        env = os.environ.get("KUBECONFIG", "")
        if os.pathsep in env:
            return None, f"$KUBECONFIG {env}"
        if env:
            return env, f"$KUBECONFIG {env}"
        path = os.path.expanduser("~/.kube/config")
        return path, path

    def in_cluster(self) -> bool:
        """Running in a pod with no kubeconfig named: the service account's token."""
        if self._in_cluster is None:
            self._in_cluster = (self.flag is None and not os.environ.get("KUBECONFIG")
                                and bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
                                and not Path(os.path.expanduser("~/.kube/config")).exists())
        return self._in_cluster

    def data(self) -> dict | None:
        """The kubeconfig as data (None: several files to merge, left to the client)."""
        if self._data is not None:
            return self._data
        path, named = self._where()
        if path is None:
            return None
        from rollout.yamlfile import YamlError, bulk, load_documents, read_text

        file = Path(path)
        if not file.is_file():
            raise SetupError(f"{named}: no such kubeconfig file" + (" (is it the right path?)" if self.flag else
                                                                     ": give --kubeconfig or set $KUBECONFIG"))
        try:
            text = read_text(file)
            with bulk():  # 10,001 contexts: ~100,000 objects kept, no collection passes over them
                docs = _json(text)
                if docs is None:
                    docs = load_documents(file, text)
        except YamlError as err:
            raise SetupError(f"{path}:{err.line}: not a readable kubeconfig: {err.message}") from None
        except OSError as err:
            raise SetupError(f"{path}: cannot read the kubeconfig: {err.strerror}") from None
        data = docs[0] if docs else None
        if not isinstance(data, dict) or not isinstance(data.get("contexts"), list):
            raise SetupError(f"{path}:1: not a kubeconfig: no `contexts` list")
        self._data, self._base, self._path = data, str(file.resolve().parent), path
        return data

    def check_context(self, context: str | None, who: str) -> None:
        """A context the gate names must be in the kubeconfig (or be the current one)."""
        if self.in_cluster() and context is None:
            return
        data = self.data()
        if data is None:
            return
        names = [c.get("name") for c in data["contexts"] if isinstance(c, dict)]
        wanted = context or data.get("current-context")
        if not wanted:
            raise SetupError(f"{self._path}: {who}: no context named and no current-context set")
        if wanted not in names:
            shown = ", ".join(str(n) for n in names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
            raise SetupError(f"{self._path}: {who}: context {wanted!r} is not in the kubeconfig (contexts: {shown})")

    # --- clients and LISTs ------------------------------------------------------------------
    def api_client(self, context: str | None):
        """The context's kubernetes.client.ApiClient, built by the client's own loader
        (rollout/inventory/hub.py GETs its pages through it: `get_raw`)."""
        if context in self._apis:
            return self._apis[context]
        from kubernetes import client, config

        try:
            if self.in_cluster() and context is None:
                config.load_incluster_config()
                api = client.ApiClient()
            elif self.data() is None:
                api = config.new_client_from_config(context=context)
            else:
                configuration = client.Configuration()
                config.kube_config.KubeConfigLoader(config_dict=self._entries(context), active_context=context,
                                                    config_base_path=self._base).load_and_set(configuration)
                api = client.ApiClient(configuration=configuration)
        except config.ConfigException as err:
            raise SetupError(f"{self._path or 'kubeconfig'}: context {context or '(current)'}: {err}") from None
        except (AttributeError, TypeError, KeyError) as err:  # an entry of the wrong shape the loader trips on
            raise SetupError(f"{self._path or 'kubeconfig'}: context {context or '(current)'}: an entry the kubernetes "
                             f"client cannot read ({type(err).__name__}); compare it with `kubectl config view`") from None
        api.configuration.retries = False
        self._apis[context] = api
        return api

    def _entries(self, context: str | None) -> dict:
        """The kubeconfig cut down to what the client's loader reads for this context: its
        context, cluster and user entries (every entry of that name, so that a duplicate is
        the loader's error as before; entries without a name too: its error as well) and
        the file's other keys. The loader then behaves as on the whole file (exec plugins,
        auth providers, token files and certificates relative to the kubeconfig's folder)."""
        data = self._data
        sections = ("contexts", "clusters", "users")
        if self._index is None and self._apis:  # a second context: index the names once (1,000 Flux contexts)
            self._index = {section: _by_name(data.get(section)) for section in sections}

        def named(section: str, name) -> list:
            if self._index is not None:
                return self._index[section].get(name, []) + (self._index[section].get(None, []) if name is not None else [])
            return [e for e in data.get(section) or [] if _name_of(e) in (name, None)]  # one context: one pass

        wanted = context if context is not None else data.get("current-context")
        mine = named("contexts", wanted) if _hashable(wanted) else []
        first = next((c.get("context") for c in mine if isinstance(c, dict) and "name" in c), None)
        if first is not None and not isinstance(first, dict):
            raise SetupError(f"{self._path}: context {wanted}: its `context` must be a mapping of cluster, user "
                             f"and namespace, not {type(first).__name__}")
        first = first if isinstance(first, dict) else {}
        out = {key: value for key, value in data.items() if key not in sections}
        out["contexts"] = mine
        for section, key in (("clusters", "cluster"), ("users", "user")):
            if section not in data:
                continue  # the loader's own words for a missing list
            name = first.get(key)
            if not isinstance(data[section], list) or name is None or not _hashable(name):
                out[section] = data[section]  # nothing to cut: the loader says what is wrong
            else:
                out[section] = named(section, name)
        if "users" in out and isinstance(out["users"], list):
            out["users"] = [self._token_read(entry) for entry in out["users"]]
        return out

    def _token_read(self, entry):
        """A user's `tokenFile` read as client-go reads it, surrounding whitespace trimmed:
        `kubectl create token SA > token` ends the file with a newline, which the Python
        client would send in the Authorization header (and fail on). The file wins over a
        `token` beside it, as in client-go and in the Python loader; it goes to the loader
        as `token`, read once, as the loader reads it."""
        user = entry.get("user") if isinstance(entry, dict) else None
        if not isinstance(user, dict) or not isinstance(user.get("tokenFile"), str):
            return entry
        path = os.path.join(self._base, user["tokenFile"])  # relative to the kubeconfig, as the loader does
        try:
            with open(path, encoding="utf-8") as handle:
                token = handle.read().strip()
        except (OSError, UnicodeDecodeError) as err:
            raise SetupError(f"{self._path}: user {entry.get('name')}: tokenFile {user['tokenFile']}: cannot read it "
                             f"({getattr(err, 'strerror', None) or type(err).__name__})") from None
        return {**entry, "user": {key: value for key, value in user.items() if key not in ("tokenFile", "token")}
                | {"token": token}}

    def list(self, context: str | None, group: str, version: str, namespace: str, plural: str
             ) -> tuple[dict[str, dict] | None, str]:
        """name -> object; or (None, why) when the API cannot be reached."""
        key = (context, group, version, namespace, plural)
        if key not in self._listed:
            self._listed[key] = self._list(context, group, version, namespace, plural)
        got = self._listed[key]
        if isinstance(got, Future):  # sent ahead (`prefetch`): its answer
            got = self._listed[key] = got.result()
        return got

    def prefetch(self, context: str | None, group: str, version: str, namespace: str, plural: str
                 ) -> Future | None:
        """Send this LIST now, on a thread of its own, so that the API server works while we
        load the rest; `list` of the same key takes its answer (waiting for it). The context
        must be in the kubeconfig and its client is made here: a set-up error is the
        caller's (SetupError), as with `list`. Returns the answer to come (None: this
        evaluation has it, or asked for it, already)."""
        key = (context, group, version, namespace, plural)
        if key in self._listed:
            return None
        self.check_context(context, "prefetch")
        self.api_client(context)
        answer: Future = Future()

        def fetch() -> None:
            try:
                answer.set_result(self._list(context, group, version, namespace, plural))
            except BaseException as err:  # noqa: BLE001 - raised again where the answer is read
                answer.set_exception(err)

        self._listed[key] = answer
        threading.Thread(target=fetch, name=f"list {plural}", daemon=True).start()  # never holds up an exit
        return answer

    def _list(self, context, group, version, namespace, plural) -> tuple[dict[str, dict] | None, str]:
        import orjson
        from kubernetes.client.exceptions import ApiException

        from rollout.yamlfile import bulk

        api = self.api_client(context)
        where = f"the {context or 'current'} context"
        try:  # the raw body, decoded once (the client would decode it to text, then parse that)
            raw = get_raw(api, api_path(group, version, namespace, plural), [], TIMEOUT)
            with bulk():  # 10,000 Applications: no collection passes over them while they are built
                listed = orjson.loads(raw)
        except ApiException as err:
            if err.status in (401, 403):
                self._refused.add(context)
                return None, (f"{where}: the API server refused our credentials to list {plural}.{group} in "
                              f"{namespace} (HTTP {err.status} {err.reason})")
            if err.status == 404:
                return {}, ""  # no such resource kind or namespace there: observed, nothing found
            return None, f"cannot read {where}: HTTP {err.status} {err.reason}"
        except Exception as err:  # noqa: BLE001 - any failure to connect: the observer cannot see
            return None, f"cannot reach {where}: {type(err).__name__}"
        if not isinstance(listed, dict):
            return None, f"cannot read {where}: the answer is not a Kubernetes list"
        return {item["metadata"]["name"]: item for item in listed.get("items", [])}, ""

    def connect(self, contexts) -> None:
        """Build the clients of these contexts now, in order: a set-up error surfaces here,
        not from inside a thread pool."""
        for context in dict.fromkeys(contexts):
            self.api_client(context)

    def list_kind(self, context: str | None, kind, namespace: str, selector: str | None = None
                  ) -> tuple[list[dict] | None, str]:
        """The objects of a `waves.gates.kstatus.Kind` (built-in or custom; cluster-scoped
        kinds ignore the namespace), each with its apiVersion and kind (a list of built-in
        objects omits them per item); or (None, why) when the API cannot be reached. Refused
        credentials and "no such kind there" (404: observed, nothing found) as `list`."""
        key = (context, kind.group, kind.version, namespace, kind.plural, selector or "")
        if key not in self._listed:
            self._listed[key] = self._list_kind(context, kind, namespace, selector)
        return self._listed[key]

    def _list_kind(self, context, kind, namespace, selector) -> tuple[list[dict] | None, str]:
        import orjson
        from kubernetes.client.exceptions import ApiException

        api = self.api_client(context)
        where = f"the {context or 'current'} context"
        query = [("labelSelector", selector)] if selector else []
        try:  # built-in kinds under /api/v1, every group's under /apis/<group>/<version>
            listed = orjson.loads(get_raw(api, api_path(kind.group, kind.version, namespace if kind.namespaced else None,
                                                        kind.plural), query, TIMEOUT))
            if not isinstance(listed, dict):
                return None, f"cannot read {where}: the answer is not a Kubernetes list"
        except ApiException as err:
            if err.status in (401, 403):
                self._refused.add(context)
                return None, (f"{where}: the API server refused our credentials to list {kind.plural} in "
                              f"{namespace} (HTTP {err.status} {err.reason})")
            if err.status == 404:
                return [], ""
            if err.status == 400:  # a selector the API server cannot parse: the operator's
                raise SetupError(f"{where}: listing {kind.plural}: HTTP 400: {_message(err)}") from None
            return None, f"cannot read {where}: HTTP {err.status} {err.reason}"
        except Exception as err:  # noqa: BLE001 - any failure to connect: the observer cannot see
            return None, f"cannot reach {where}: {type(err).__name__}"
        list_kind = str(listed.get("kind") or "")
        items = [item for item in listed.get("items") or [] if isinstance(item, dict)]
        for item in items:
            item.setdefault("apiVersion", listed.get("apiVersion") or kind.api_version)
            item.setdefault("kind", kind.kind or list_kind.removesuffix("List"))
        return items, ""

    def list_many(self, keys: list[tuple[str | None, str]], group: str, version: str, plural: str
                  ) -> dict[tuple[str | None, str], tuple[dict | None, str]]:
        """One LIST per (context, namespace), in parallel (bounded)."""
        keys = list(dict.fromkeys(keys))
        for context, _ in keys:
            self.api_client(context)  # build clients here: set-up errors surface in order
        if len(keys) <= 1:
            return {key: self.list(key[0], group, version, key[1], plural) for key in keys}
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(keys))) as pool:
            results = pool.map(lambda key: self.list(key[0], group, version, key[1], plural), keys)
            return dict(zip(keys, results))

    def any_answers(self, contexts: list[str | None], group: str, version: str, namespace: str, plural: str,
                    limit: int = 3) -> bool:
        """Whether any of (at most `limit` of) these contexts answers a LIST: the observer
        itself works, so a wave whose own contexts are all silent has unreachable clusters,
        not a blind observer."""
        probes = list(dict.fromkeys(contexts))[:limit]
        return any(items is not None for items, _ in
                   self.list_many([(c, namespace) for c in probes], group, version, plural).values())


def api_path(group: str, version: str, namespace: str | None, plural: str) -> str:
    """A LIST's URL path: `/apis/<group>/<version>[/namespaces/<ns>]/<plural>`, `/api/<version>/...`
    for the core group (no group); each segment quoted."""
    root = f"/apis/{quote(group, safe='')}/{quote(version, safe='')}" if group else f"/api/{quote(version, safe='')}"
    where = f"/namespaces/{quote(namespace, safe='')}" if namespace is not None else ""
    return f"{root}{where}/{quote(plural, safe='')}"


def get_raw(api, path: str, query: list[tuple[str, object]], timeout: float) -> bytes:
    """GET `path` (its segments quoted) through a kubernetes.client.ApiClient: its host,
    default headers, credentials (a token an exec plugin or auth provider refreshes) and
    urllib3 pool, as the typed APIs send it; the body as the server sent it. An error
    answer raises the client's ApiException (status, reason, body), as theirs do.

    Not through CustomObjectsApi or CoreV1Api: importing either costs 25 ms or more (in the
    client's pydantic generation every method is wrapped by validate_call), for a URL we can
    write. The client's two generations differ here, told apart by what the ApiClient has:
    the pydantic one (37.0.3 checked) builds the request with `param_serialize` and sends it
    with `call_api`; the older one (29.0.0 checked) takes the path in `call_api` and raises
    for an error answer in its REST layer."""
    from kubernetes.client.exceptions import ApiException

    headers = {"Accept": "application/json"}
    if hasattr(api, "param_serialize"):
        method, url, headers, _, _ = api.param_serialize("GET", path, query_params=query, header_params=headers,
                                                         auth_settings=["BearerToken"])
        response = api.call_api(method, url, headers, _request_timeout=timeout)
        body = response.read()
        if not 200 <= response.status <= 299:
            raise ApiException(http_resp=response)
        return body
    return api.call_api(path, "GET", query_params=query, header_params=headers, auth_settings=["BearerToken"],
                        response_type="object", _preload_content=False, _return_http_data_only=True,
                        _request_timeout=timeout).data


def _json(text: str) -> list | None:
    """The kubeconfig's one document when the file is JSON (kubectl's `-o json`, the
    simulator's), read by orjson (3.3 MB with 10,001 contexts: `data()` ~10.5 ms, ~13.7 with
    json); None for YAML (or JSON that does not parse: the YAML reader locates the error)."""
    import orjson

    if not text.lstrip().startswith("{"):
        return None
    try:
        return [orjson.loads(text)]
    except ValueError:
        return None


def _hashable(value) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _name_of(entry) -> object:
    """An entry's name; None for one with no name (or not a mapping: the loader refuses
    them, wherever they are), or a name no context can have."""
    name = entry.get("name") if isinstance(entry, dict) and "name" in entry else None
    return name if _hashable(name) else None


def _by_name(entries) -> dict:
    """name -> the entries of that name, in order (`_name_of`)."""
    out: dict = {}
    for entry in entries if isinstance(entries, list) else []:
        out.setdefault(_name_of(entry), []).append(entry)
    return out


def _message(err) -> str:
    import json

    try:
        return str(json.loads(err.body).get("message") or err.reason)
    except (TypeError, ValueError, AttributeError):
        return str(err.reason)
