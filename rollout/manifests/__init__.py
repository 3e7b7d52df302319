"""Editing users' manifests: exactly the pinned scalar changes, nothing else."""
