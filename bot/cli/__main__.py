"""`python -m bot.cli`: the same as the `lore` command."""

import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main())
