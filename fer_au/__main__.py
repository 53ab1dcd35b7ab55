"""`python -m fer_au ...`: the same commands as `fer-au` and `python cli.py`."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
