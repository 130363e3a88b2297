"""``python -m xpnet``: the same command line as ``xpnet``."""
import sys

from xpnet.cli import main

if __name__ == "__main__":
    sys.exit(main())
