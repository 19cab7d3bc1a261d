"""``python -m pesto_core``: the ``pesto`` command line."""

import sys

from .cli import main

sys.exit(main())
