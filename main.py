"""PESTO Tracker desktop app: ``python main.py [FILES...]`` (see README.md)."""

import sys

from app.main import main

if __name__ == "__main__":
    sys.exit(main())
