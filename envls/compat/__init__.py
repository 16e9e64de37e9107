"""Workarounds for the libraries envls builds on, one module per library.

Each workaround names the version it was written for, and tests/test_compat.py holds a test that
fails once the library no longer needs it: then delete the workaround and its test.
"""
