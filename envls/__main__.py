"""`python -m envls` runs the same command line as `envls`."""

import sys

from envls.cli import main

sys.exit(main())
