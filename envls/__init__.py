"""envls: a language server and checker for conda environment.yml files."""

__version__ = "0.1.0"
