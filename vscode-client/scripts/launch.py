"""Runs the envls bundled in the VS Code extension: `python launch.py serve --stdio`.

The bundle build (scripts/bundle-python.mjs) copies this file to bundled/tool/launch.py. It puts
bundled/libs first on sys.path and runs envls' command line. A launcher rather than PYTHONPATH:
the server runs conda, mamba and pip, and those must not import the bundled packages.
"""

import os
import sys

LIBS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "libs")
sys.path.insert(0, LIBS)

from envls.cli import main  # noqa: E402

sys.exit(main())
