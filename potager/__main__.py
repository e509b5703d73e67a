"""`python -m potager` is the `potager` command."""

import sys

from potager.cli import main

sys.exit(main())
