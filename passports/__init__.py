"""Digital product passports (pure: events and product data in, passport values and bytes out).

Empty until the passports issue lands; the package exists so the layering of DESIGN.md holds
from the first commit.
"""
