"""Entry point of the desktop app: ``python main.py [FILES...]`` or ``pesto-gui [FILES...]``."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="pesto-gui", description="PESTO Tracker: live and file pitch tracking")
    parser.add_argument("files", nargs="*", help="audio files to open in the File tab")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging details")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    from PySide6 import QtWidgets

    from .main_window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("PESTO Tracker")
    app.setOrganizationName("PESTO Tracker")
    window = MainWindow(args.files)
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
