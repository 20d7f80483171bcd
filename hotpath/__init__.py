"""The kernel of the hot path: what every proxied call reads, and the contract its gates follow.

- `context` / `callrecord`: who is calling (RequestContext) and the one record each call leaves.
- `gates`: the Gate protocol (before/after), the ProxyCall the gates see, and load_gates.
- `errors`: the refusals and failures a call can end with, each with its HTTP status.
- `snapshot`: immutable in-process snapshots of keys, secrets, prices and policies.
- `changes`: the change signal that keeps every snapshot of every process current.

Policies implement gates against this package and never import the proxy; the proxy runs them.
"""
