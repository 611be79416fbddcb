"""`python -m transferability`: runs the command line of cli.py and exits with its status."""

import sys

from .cli import main

sys.exit(main())
