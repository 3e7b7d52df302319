"""The pure planning core: policy and inventory models, label selectors, the wave DAG.

Data in, plan out: nothing here touches git, the network or a terminal, and nothing
here imports `rollout`.
"""
