"""passports package."""
