"""The torture suite: kill -9 at random points, racing runners, fuzzed input, canary
secrets. Small in the normal test run; big by hand: `python -m tests.torture --trials 500`
(docs/reliability.md)."""
