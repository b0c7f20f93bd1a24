"""``python -m gankit.cli ...`` (as torchrun and the tests start it)."""

import sys

from . import main

sys.exit(main())
