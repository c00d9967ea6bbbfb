"""Circularity (MCI, CTI) and maturity scoring (pure: facts in, scores and explanations out).

Empty until the scoring issue lands; the package exists so the layering of DESIGN.md holds
from the first commit.
"""
