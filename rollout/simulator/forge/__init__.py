"""`rollout simulate --scm github|gitlab`: a forge beside the simulated fleet.

store.py keeps the pull requests and does what a forge does on a merge (a real git
merge, squash or rebase whose result it writes into the bare repository by updating
the ref itself, not by pushing); github.py and gitlab.py serve the REST subset their
client libraries (PyGithub, python-gitlab) call, on the simulator's aiohttp server.
"""
