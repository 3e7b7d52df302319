"""A fleet that answers like Kubernetes: `rollout simulate` serves the Argo CD and Flux
objects of every cluster a repo's policies cover, and moves their status the way the
real controllers do when the pinned revisions change in Git."""
