"""The reliability soak harness (``make soak``): the distributed deployment on this machine
under load and scheduled faults, then every invariant checked (docs/soak.md, ADR 0014)."""
