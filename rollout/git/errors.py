"""What git plumbing raises: one line, credentials scrubbed (rollout/git/repo.py)."""


class GitError(Exception):
    pass
