"""``python -m benches``."""

import sys

from benches.commands import main

sys.exit(main())
