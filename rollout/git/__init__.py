"""Git: the only store of rollout state. Commits are built with plumbing on top of a
base commit and only then published, so no run leaves a half-made commit or an edited
working tree behind."""
