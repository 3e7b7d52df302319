"""waves/dag.py against networkx (the oracle the planner used before, kept as a test
dependency): the same cycle, the same order, the same reduction, on random graphs."""

from __future__ import annotations

import networkx as nx
from hypothesis import given, strategies as st

from waves.dag import find_cycle, lexicographical_topological_sort, transitive_reduction

NODES = [f"w{i}" for i in range(9)]


@st.composite
def graphs(draw, acyclic: bool):
    nodes = draw(st.permutations(NODES).map(lambda p: p[: draw(st.integers(1, len(NODES)))]))
    pairs = [(a, b) for i, a in enumerate(nodes) for j, b in enumerate(nodes) if (i < j if acyclic else a != b)]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=20)) if pairs else []
    return list(nodes), edges


def oracle(nodes, edges) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    return graph


@given(graphs(acyclic=False))
def test_the_cycle_is_the_one_networkx_finds(graph):
    nodes, edges = graph
    try:
        expected = [edge[0] for edge in nx.find_cycle(oracle(nodes, edges))]
    except nx.NetworkXNoCycle:
        expected = None
    assert find_cycle(nodes, edges) == expected


@given(graphs(acyclic=True), st.randoms(use_true_random=False))
def test_the_order_and_the_reduction_are_networkx_s(graph, random):
    nodes, edges = graph
    keys = {n: random.randint(0, 3) for n in nodes}  # ties too: the earliest given goes first
    dag = oracle(nodes, edges)
    assert lexicographical_topological_sort(nodes, edges, keys.get) == \
        list(nx.lexicographical_topological_sort(dag, key=keys.get))
    reduced = nx.transitive_reduction(dag)
    assert transitive_reduction(nodes, edges) == {n: set(reduced.predecessors(n)) for n in nodes}
