"""Planners' tools: the engine driven in virtual time, workloads, staffing, results as data."""
