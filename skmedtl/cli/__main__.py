"""``python -m skmedtl.cli``."""

import sys

from . import main

sys.exit(main())
