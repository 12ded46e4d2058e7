"""``python -m lowbit``: the ``lowbit`` command (the same as the installed script)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
