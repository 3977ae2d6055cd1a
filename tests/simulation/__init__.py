"""A randomized, seed-driven simulation of many orders' whole lives against the real stack
(README.md in this folder)."""
