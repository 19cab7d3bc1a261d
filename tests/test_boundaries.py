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


@pytest.mark.parametrize("path", sorted((ROOT / "pesto_core").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
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
    code = (
        "import sys, pkgutil, importlib, pesto_core\n"
        "for m in pkgutil.walk_packages(pesto_core.__path__, 'pesto_core.'):\n"
        "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {GUI_MODULES!r}]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


LIGHT_MODULES = [
    "pesto_core",
    "pesto_core.cli",
    "pesto_core.units",
    "pesto_core.track",
    "pesto_core.errors",
    "pesto_core.bundled",
    "pesto_core.validation",
    "pesto_core.geometry",
    "pesto_core.writers",
    "pesto_core.audio",
    "pesto_core.device",
    "pesto_core.presets",
    "pesto_core.glitch",
    "pesto_core.voicing",
]


@pytest.mark.parametrize("module", LIGHT_MODULES)
def test_light_engine_modules_do_not_import_torch(module):
    """`import pesto_core` and the modules the GUI thread and `pesto -h` need are cheap: torch loads when used."""
    code = f"import sys, {module}\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False", f"importing {module} imported torch"


def test_lazy_public_names_resolve():
    code = (
        "import sys, pesto_core\n"
        "assert 'torch' not in sys.modules\n"
        "names = [pesto_core.predict, pesto_core.load_model, pesto_core.select_device, pesto_core.analyse_file]\n"
        "print('torch' in sys.modules, all(callable(n) for n in names))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True True"


def test_pesto_help_does_not_import_torch():
    code = (
        "import sys, contextlib, io\n"
        "from pesto_core.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main(['-h'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
