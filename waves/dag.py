"""The three graph operations the planner needs on its DAG of waves (tens of nodes), in the
standard library: importing networkx for them cost ~0.1 s on every `plan`, a third of a
10,000-cluster plan's own work (docs/performance.md). Each gives what networkx's function
of the same name gives (tests/test_dag.py checks them against it, as an oracle):

- `find_cycle`: the first cycle a depth-first search meets, nodes and successors in
  insertion order, as the list of its nodes from where it closes;
- `lexicographical_topological_sort`: Kahn's algorithm, the ready node with the least
  (key, insertion index) first;
- `transitive_reduction`: each node's predecessors that no other path reaches.

A graph is `nodes` (in order) and `edges` (u, v) meaning u before v.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterable


def _successors(nodes: list, edges: Iterable[tuple]) -> dict:
    out: dict = {n: {} for n in nodes}  # a dict keeps insertion order and drops repeated edges
    for u, v in edges:
        out.setdefault(u, {})
        out.setdefault(v, {})
        out[u][v] = None
    return out


def find_cycle(nodes: list, edges: Iterable[tuple]) -> list | None:
    """The nodes of a cycle, in order, from the node where it closes; None: no cycle."""
    succ = _successors(nodes, edges)
    done: set = set()
    for start in succ:
        if start in done:
            continue
        path, on_path = [start], {start}
        stack = [iter(succ[start])]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
                node = path.pop()
                on_path.discard(node)
                done.add(node)
                continue
            if child in on_path:
                return path[path.index(child):]
            if child in done:
                continue
            path.append(child)
            on_path.add(child)
            stack.append(iter(succ[child]))
    return None


def lexicographical_topological_sort(nodes: list, edges: Iterable[tuple], key: Callable[[Hashable], object]) -> list:
    """Every node, each after its predecessors; of the ready ones, the least key first (then
    the earliest given). Raises ValueError on a cycle."""
    succ = _successors(nodes, edges)
    index = {n: i for i, n in enumerate(succ)}
    indegree = dict.fromkeys(succ, 0)
    for children in succ.values():
        for child in children:
            indegree[child] += 1
    ready = [(key(n), index[n], n) for n, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, _, node = heapq.heappop(ready)
        order.append(node)
        for child in succ[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, (key(child), index[child], child))
    if len(order) != len(succ):
        raise ValueError("the graph has a cycle")
    return order


def transitive_reduction(nodes: list, edges: Iterable[tuple]) -> dict:
    """node -> the set of its predecessors that are not also reached through another one
    (the graph must have no cycle)."""
    succ = _successors(nodes, edges)
    reach: dict = {}  # node -> every node reachable from it, itself excluded

    def reachable(node) -> set:
        if node not in reach:
            seen: set = set()
            todo = list(succ[node])
            while todo:
                child = todo.pop()
                if child not in seen:
                    seen.add(child)
                    todo.extend(succ[child])
            reach[node] = seen
        return reach[node]

    preds: dict = {n: set() for n in succ}
    for u, children in succ.items():
        for v in children:
            if not any(v in reachable(w) for w in children if w != v):
                preds[v].add(u)
    return preds
