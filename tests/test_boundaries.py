"""The engine/GUI boundary, enforced: pesto_core never imports Qt or sounddevice; app/ never imports torch."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUI_MODULES = ("PySide6", "pyqtgraph", "sounddevice", "shiboken6")


def imported_modules(path: Path, top_level_only: bool):
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


@pytest.mark.parametrize("path", sorted((ROOT / "pesto_core").glob("*.py")), ids=lambda p: p.name)
def test_engine_modules_import_no_gui(path):
    # anywhere in the file, not only at the top: the engine never pulls in Qt, PortAudio or the app, not even lazily
    # (the PNG renderer is a plug-in the app registers as an entry point, see pesto_core.writers.renderer).
    for module in imported_modules(path, top_level_only=False):
        assert not module.startswith(GUI_MODULES), f"{path.name} imports {module}"
        assert not module.startswith("app"), f"{path.name} imports {module}"


@pytest.mark.parametrize("path", sorted((ROOT / "app").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_app_never_imports_torch(path):
    for module in imported_modules(path, top_level_only=False):
        assert not module.startswith("torch"), f"{path.name} imports {module}: the GUI handles numpy only"


def test_importing_the_whole_engine_loads_no_gui_library():
    code = ("import sys, pkgutil, importlib, pesto_core\n"
            "for m in pkgutil.iter_modules(pesto_core.__path__):\n"
            "    if m.name != '__main__': importlib.import_module('pesto_core.' + m.name)\n"
            f"bad = [m for m in sys.modules if m.split('.')[0] in {GUI_MODULES!r}]\n"
            "print(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
