"""The pip section: its lines, the conda <-> PyPI mapping, and the rules on it."""
