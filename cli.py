#!/usr/bin/env python
"""fer_au command line: `python cli.py --help`."""
import sys

from fer_au.cli import main

if __name__ == "__main__":
    sys.exit(main())
