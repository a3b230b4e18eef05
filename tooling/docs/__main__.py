"""``python -m tooling.docs``: see :mod:`tooling.docs.cli`."""

import sys

from .cli import main

sys.exit(main())
