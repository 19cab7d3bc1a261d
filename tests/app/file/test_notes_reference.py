"""The reference A4 of the File tab's notes (pytest-qt, driven through the panel's A4 box): a change renames the
current file's notes and is undone like a correction, the box follows the file shown and its undo/redo, the
reference is saved in the sidecar and comes back with the take (an unusable one falls back, with a message), and
the value chosen names the notes of the files analysed next, also in a later session, whose exports are then the
command line's with ``--a4``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from app.file.analysis import AnalysisSettings
from app.file.export import ExportOptions
from app.file.notes_model import sidecar_path
from pesto_core import cli
from tests.app.file_helpers import file_panel, open_analysed, wait_idle  # noqa: F401 (fixtures)

# the File tab's default model and decoding (pesto_core.presets), which the CLI is given explicitly
DEFAULTS = AnalysisSettings().cli_options()


def names(doc):
    return [n.name for n in doc.notes.notes]


def test_a4_box_renames_undoably_and_the_sidecar_keeps_it(qtbot, file_panel, take):  # noqa: F811
    _, panel = file_panel
    box, ctl = panel.settings_box.a4, panel.notes
    assert box.value() == 440.0 and box.minimum() == 400.0 and box.maximum() == 480.0
    doc = open_analysed(qtbot, panel, take)
    at_440 = doc.notes.notes
    assert "A3" in names(doc) and doc.notes.a4_hz == 440.0

    box.setValue(415.0)
    assert doc.notes.a4_hz == 415.0 and "A#3" in names(doc) and "A3" not in names(doc)
    assert ctl.act_undo.text() == "&Undo Reference A4 = 415 Hz" and ctl.act_save.isEnabled()
    assert doc.notes.unsaved and "notes corrected, not saved" in panel.file_list.item(0).text()
    ctl.act_undo.trigger()  # undo: the old names, and the box shows the reference again
    assert doc.notes.notes == at_440 and box.value() == 440.0 and not doc.notes.unsaved
    assert any(t.startswith("A3 ") for t in ctl.overlay.label_texts())
    ctl.act_redo.trigger()
    assert doc.notes.a4_hz == 415.0 and box.value() == 415.0
    box.setValue(420.0)  # after a redo: a new entry, not merged into the 415 one
    ctl.act_undo.trigger()
    assert doc.notes.a4_hz == 415.0 and box.value() == 415.0
    ctl.act_redo.trigger()
    assert panel.settings.get("a4_hz", 0.0) == 420.0  # the last one chosen (not an undo) is remembered

    # saved: the sidecar holds the reference; reopened, it comes back and the box shows it
    path = ctl.save()
    assert json.loads(Path(path).read_text())["a4_hz"] == 420.0
    renamed = doc.notes.notes
    panel.close_document(doc)  # (saved: no question)
    assert doc not in panel.docs
    box.setValue(440.0)  # no file: only the reference of the next analyses
    assert ctl.default_a4_hz == 440.0
    doc = open_analysed(qtbot, panel, take)
    assert doc.notes.notes == renamed and doc.notes.a4_hz == 420.0 and not doc.notes.unsaved
    assert box.value() == 420.0 and ctl.default_a4_hz == 440.0  # shown, not made the default
    assert "A4 = 420 Hz" in ctl.summary.numbers_text()

    # a second file shows its own reference; switching back shows the first one's
    other = take.with_name("other.wav")
    shutil.copyfile(take, other)
    doc2 = open_analysed(qtbot, panel, other)
    assert doc2.notes.a4_hz == 440.0 and box.value() == 440.0
    panel.file_list.setCurrentRow(0)
    assert box.value() == 420.0
    panel.close_document(doc2)
    assert panel.docs == [doc]

    # a sidecar whose reference is not usable: a message, and the notes named against the tab's reference
    data = json.loads(Path(path).read_text())
    data["a4_hz"] = "baroque"
    Path(path).write_text(json.dumps(data))
    panel.close_document(doc)  # (saved: no question)
    assert doc not in panel.docs
    n_messages = len(panel.messages)
    doc = open_analysed(qtbot, panel, take)
    warnings = [text for level, text in panel.messages[n_messages:] if level == "warning"]
    assert len(warnings) == 1 and "reference is not usable" in warnings[0] and "A4 = 440 Hz" in warnings[0]
    assert doc.notes.a4_hz == 440.0 and box.value() == 440.0 and "A3" in names(doc)
    assert len(doc.notes.notes) == len(renamed)  # the corrections (none but the reference) still applied


def test_a4_chosen_names_later_analyses_in_later_sessions(qtbot, file_panel, tmp_path, take):  # noqa: F811
    from app.common.settings import Settings
    from app.file.settings_box import SettingsBox

    _, panel = file_panel
    panel.settings_box.a4.setValue(432.0)  # before any file: the reference of the notes to come
    doc = open_analysed(qtbot, panel, take)
    assert doc.notes.a4_hz == 432.0 and not doc.notes.edited  # segmented so: nothing to save
    assert {n.a4_hz for n in doc.notes.notes} == {432.0} and not panel.notes.act_save.isEnabled()
    # its exports (uncorrected: segmented from the exported track) are pesto --a4 432's
    app_dir, cli_dir = tmp_path / "app", tmp_path / "cli"
    with qtbot.waitSignal(panel.export_finished, timeout=60000) as sig:
        panel.export([doc], ExportOptions(("notes", "mid"), str(app_dir)))
    assert sig.args[1] == ""
    wait_idle(qtbot, panel)
    assert cli.main([str(take), "-o", str(cli_dir), "-e", "notes", "mid", "--a4", "432", "-q", *DEFAULTS]) == 0
    for name in ("take.notes.csv", "take.mid"):
        assert (app_dir / name).read_bytes() == (cli_dir / name).read_bytes(), name
    assert b",432\n" in (app_dir / "take.notes.csv").read_bytes()
    # an export that segments notes the tab does not hold yet (analysed and exported in one go) uses it too
    panel.settings_box.analyse_on_open.setChecked(False)
    fresh = take.with_name("fresh.wav")
    shutil.copyfile(take, fresh)
    new = panel.open_files([str(fresh)])[0]
    with qtbot.waitSignal(panel.export_finished, timeout=60000) as sig:
        panel.export([new], ExportOptions(("notes",), str(app_dir)))
    wait_idle(qtbot, panel)
    assert (app_dir / "fresh.notes.csv").read_bytes() == (cli_dir / "take.notes.csv").read_bytes()
    # a later session (the same settings file) starts with it; a broken stored value gives the default
    panel.settings.sync()
    later = SettingsBox(Settings("file", path=tmp_path / "settings.ini"))
    qtbot.addWidget(later)
    assert later.a4_value == 432.0
    broken = Settings("file", path=tmp_path / "broken.ini")
    broken.set("a4_hz", "a lot")
    huge = Settings("file", path=tmp_path / "huge.ini")
    huge.set("a4_hz", 900.0)
    for settings, want in ((broken, 440.0), (huge, 480.0)):
        restored = SettingsBox(settings)
        qtbot.addWidget(restored)
        assert restored.a4_value == want
    assert not sidecar_path(take).exists()  # nothing was corrected: nothing written next to the audio
