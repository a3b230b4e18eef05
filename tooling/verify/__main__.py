"""``python -m tooling.verify``: see :mod:`tooling.verify.cli`."""

import sys

from .cli import main

sys.exit(main())
