"""The settings model moved to envls/settings.py (the command line reads it too); kept for old imports."""

from envls.settings import Settings, channel_checks_default, parse_settings

__all__ = ["Settings", "channel_checks_default", "parse_settings"]
