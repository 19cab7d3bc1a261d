"""The app's layout, enforced: the live and file data paths never import each other, and the window's modules do
not load torch on the GUI thread (the engine is imported by the worker threads)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"


def imports(path: Path):
    """Absolute names of the modules a file imports (relative imports resolved)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                yield ".".join(base + ([node.module] if node.module else []))
            else:
                yield node.module


@pytest.mark.parametrize("side, other", [("live", "file"), ("file", "live")])
def test_live_and_file_never_import_each_other(side, other):
    for path in sorted((APP / side).rglob("*.py")):
        for module in imports(path):
            assert not module.startswith(f"app.{other}"), f"{path.relative_to(ROOT)} imports {module}"


def test_common_imports_neither_tab():
    for path in sorted((APP / "common").rglob("*.py")):
        for module in imports(path):
            assert not module.startswith(("app.live", "app.file")), f"{path.relative_to(ROOT)} imports {module}"


@pytest.mark.parametrize("modules", ["app.main_window", "app.main_window, app.live.panel, app.file.panel"])
def test_importing_the_window_loads_no_torch(modules):
    code = f"import sys, {modules}; assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
