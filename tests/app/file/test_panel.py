"""File tab, driven as a user would (pytest-qt; a real X server when DISPLAY is set, else offscreen): open ->
analyse -> export on the golden WAVs, compared with what the ``pesto`` command line writes; cancel; bad files;
unwritable export folder; several files in one go; drops; recent files; keyboard view control; crosshair readout."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from app.file import document as fd
from app.file.analysis import AnalysisSettings
from app.file.export import ExportOptions
from pesto_core import cli
from tests.app.file_helpers import DATA, copy_data, file_panel, wait_idle, write_tone  # noqa: F401 (fixture)


def run_cli(args, settings: AnalysisSettings = None) -> None:
    """``pesto ARGS`` with the File tab's analysis settings (default: its defaults; the CLI's own default model is
    upstream's mir-1k_g7, and its decoding frame by frame)."""
    assert cli.main((settings or AnalysisSettings()).cli_options() + list(args) + ["-q"]) == 0


def assert_npz_equal(a_path: Path, b_path: Path) -> None:
    a, b = np.load(a_path), np.load(b_path)
    assert sorted(a.files) == sorted(b.files)
    for key in a.files:
        x, y = a[key], b[key]
        assert x.dtype == y.dtype and x.shape == y.shape, key
        assert np.array_equal(x, y), key  # identical, not close: same engine, same writers


@pytest.mark.parametrize(
    "name,step_ms,reduction", [("speech_22k.wav", 10.0, "alwa"), ("synth_16k.wav", 20.0, "argmax")]
)
def test_open_analyse_export_equals_cli(qtbot, file_panel, tmp_path, name, step_ms, reduction):  # noqa: F811
    _, panel = file_panel
    settings = AnalysisSettings(step_ms=step_ms, reduction=reduction)
    panel.settings_box.set_analysis_settings(settings)
    audio = copy_data(name, tmp_path)
    docs = panel.open_files([str(audio)])
    assert len(docs) == 1 and panel.current_doc() is docs[0]
    wait_idle(qtbot, panel)
    doc = docs[0]
    assert doc.state == fd.DONE and doc.frames_done == doc.total_frames > 0
    assert np.isfinite(doc.pitch_semitones).all()
    # the curve is on screen: every frame, plus a gap point at each jump of more than 2 semitones
    x, y = panel.view.pitch.curve.getData()
    assert x is not None and set(doc.time_s) <= set(x)

    app_dir, cli_dir = tmp_path / "app_out", tmp_path / "cli_out"
    with qtbot.waitSignal(panel.export_finished, timeout=60000) as sig:
        panel.export([doc], ExportOptions(("csv", "npz", "png"), str(app_dir)))
    paths, error = sig.args
    assert error == "" and sorted(Path(p).name for p in paths) == sorted(
        f"{audio.stem}.f0.{e}" for e in ("csv", "npz", "png")
    )
    wait_idle(qtbot, panel)
    assert settings.tracks == (reduction == "alwa")  # the Viterbi tracker with alwa (its default), not with argmax
    run_cli([str(audio), "-o", str(cli_dir), "-e", "csv", "npz", "png"], settings)
    stem = f"{audio.stem}.f0"
    assert (app_dir / f"{stem}.csv").read_bytes() == (cli_dir / f"{stem}.csv").read_bytes()
    assert_npz_equal(app_dir / f"{stem}.npz", cli_dir / f"{stem}.npz")
    # the PNG is drawn by the same function from the same track; compare the pictures
    a = QtGui.QImage(str(app_dir / f"{stem}.png"))
    b = QtGui.QImage(str(cli_dir / f"{stem}.png"))
    assert not a.isNull() and a.size() == b.size() and a == b
    assert panel.messages[-1][0] == "info"


def test_export_semitones_next_to_audio_and_view_png(qtbot, file_panel, tmp_path):  # noqa: F811
    _, panel = file_panel
    audio = copy_data("synth_44k.wav", tmp_path)
    doc = panel.open_files([str(audio)])[0]
    wait_idle(qtbot, panel)
    panel.view.pitch.setXRange(0.5, 1.5, padding=0)
    view = panel.view.visible_range()
    with qtbot.waitSignal(panel.export_finished, timeout=60000) as sig:
        panel.export([doc], ExportOptions(("csv", "png"), None, convert_to_freq=False, png_range=view))
    assert sig.args[1] == ""
    wait_idle(qtbot, panel)
    cli_dir = tmp_path / "cli"
    run_cli([str(audio), "-o", str(cli_dir), "-F"])
    assert (tmp_path / "synth_44k.semitones.csv").read_bytes() == (cli_dir / "synth_44k.semitones.csv").read_bytes()
    png = QtGui.QImage(str(tmp_path / "synth_44k.semitones.png"))
    assert not png.isNull() and png.width() > 500


def test_cancel_mid_analysis_leaves_no_output(qtbot, file_panel, tmp_path):  # noqa: F811
    _, panel = file_panel
    audio = write_tone(tmp_path / "long.wav", 240.0)
    out = tmp_path / "out"
    doc = panel.open_files([str(audio)])[0]
    # an export queued behind the analysis must not happen either
    panel.export([doc], ExportOptions(("csv", "npz"), str(out)))
    qtbot.waitUntil(lambda: doc.frames_done > 0, timeout=60000)
    worker = panel.worker
    assert worker is not None and worker.isRunning()
    with qtbot.waitSignal(panel.job_finished, timeout=30000) as sig:
        panel.cancel()
    assert sig.args[1] == "cancelled"
    wait_idle(qtbot, panel)
    assert worker.isFinished() or panel.worker is None
    assert doc.state == fd.CANCELLED and 0 < doc.frames_done < doc.total_frames
    assert not out.exists() or not any(out.iterdir())
    assert not list(tmp_path.glob("long.*.csv")) and not list(tmp_path.glob("*.part"))
    with pytest.raises(RuntimeError):
        doc.track()  # an incomplete analysis cannot be exported
    # still usable: analyse the golden file now
    good = copy_data("speech_22k.wav", tmp_path)
    panel.open_files([str(good)])
    wait_idle(qtbot, panel)
    assert panel.current_doc().state == fd.DONE


def _bad_files(folder: Path) -> dict:
    good = (DATA / "speech_22k.wav").read_bytes()
    files = {}
    p = folder / "corrupt.wav"
    p.write_bytes(good[:12] + os.urandom(200) + good[400:])  # RIFF header kept, format chunk destroyed
    files["corrupt"] = p
    p = folder / "zero_bytes.wav"
    p.write_bytes(b"")
    files["zero_bytes"] = p
    import soundfile as sf

    p = folder / "no_samples.wav"
    sf.write(str(p), np.zeros(0, np.float32), 16000)  # a valid header announcing no samples
    files["no_samples"] = p
    p = folder / "notes.txt"
    p.write_text("not audio at all\n")
    files["unsupported"] = p
    p = folder / "nan.wav"
    x = np.zeros(16000, np.float32)
    x[8000] = np.nan
    sf.write(str(p), x, 16000, subtype="FLOAT")
    files["nan"] = p
    files["missing"] = folder / "missing.wav"
    return files


def test_bad_files_get_a_message_and_the_app_stays_usable(qtbot, file_panel, tmp_path):  # noqa: F811
    _, panel = file_panel
    bad = _bad_files(tmp_path)
    panel.open_files([str(p) for p in bad.values()])
    wait_idle(qtbot, panel)
    text = "\n".join(t for _, t in panel.messages)
    for key, path in bad.items():
        assert path.name in text, key  # every bad file is named with its reason
    for reason in ("no such file", "contains no audio", "not a readable audio file", "NaN"):
        assert reason in text
    # a non-modal message box is on screen, and nothing blocks
    boxes = [d for d in panel.open_dialogs() if isinstance(d, QtWidgets.QMessageBox)]
    assert boxes and not any(b.isModal() for b in boxes)
    # the files that could be opened but not analysed are marked failed
    assert [(d.path.name, d.state) for d in panel.docs] == [("nan.wav", fd.FAILED)]
    good = copy_data("speech_22k.wav", tmp_path)
    doc = panel.open_files([str(good)])[0]
    wait_idle(qtbot, panel)
    assert doc.state == fd.DONE


def test_unwritable_export_folder_gets_a_message(qtbot, file_panel, tmp_path):  # noqa: F811
    _, panel = file_panel
    audio = copy_data("speech_22k.wav", tmp_path)
    doc = panel.open_files([str(audio)])[0]
    wait_idle(qtbot, panel)
    blocker = tmp_path / "a_file"
    blocker.write_text("x")  # a folder inside a regular file cannot be created, even as root
    with qtbot.waitSignal(panel.export_finished, timeout=30000) as sig:
        panel.export([doc], ExportOptions(("csv", "npz"), str(blocker / "out")))
    assert "cannot write here" in sig.args[1] and str(blocker) in sig.args[1]
    wait_idle(qtbot, panel)
    assert panel.messages[-1][0] == "error" and "Export failed" in panel.messages[-1][1]
    assert blocker.read_text() == "x"


def test_analyse_and_export_all_in_one_go(qtbot, file_panel, tmp_path):  # noqa: F811
    _, panel = file_panel
    panel.settings_box.analyse_on_open.setChecked(False)
    files = [copy_data(n, tmp_path) for n in ("synth_16k.wav", "synth_48k.wav")]
    docs = panel.open_files([str(f) for f in files])
    assert [d.state for d in docs] == [fd.NEW, fd.NEW]
    out = tmp_path / "all"
    panel.export(docs, ExportOptions(("csv",), str(out)))
    wait_idle(qtbot, panel)
    assert all(d.state == fd.DONE for d in docs)
    assert sorted(p.name for p in out.iterdir()) == ["synth_16k.f0.csv", "synth_48k.f0.csv"]
    assert panel.messages[-1][0] == "info" and "2 file(s)" in panel.messages[-1][1]


def test_drop_recent_and_reopen(qtbot, file_panel, tmp_path):  # noqa: F811
    window, panel = file_panel
    audio = copy_data("synth_16k.wav", tmp_path)
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(audio))])
    pos = QtCore.QPointF(10, 10)
    try:
        enter = QtGui.QDragEnterEvent(pos, QtCore.Qt.CopyAction, mime, QtCore.Qt.LeftButton, QtCore.Qt.NoModifier)
    except TypeError:  # PySide6 < 6.12 takes a QPoint
        enter = QtGui.QDragEnterEvent(
            pos.toPoint(), QtCore.Qt.CopyAction, mime, QtCore.Qt.LeftButton, QtCore.Qt.NoModifier
        )
    QtWidgets.QApplication.sendEvent(window, enter)  # a drop anywhere on the window
    assert enter.isAccepted()
    drop = QtGui.QDropEvent(pos, QtCore.Qt.CopyAction, mime, QtCore.Qt.LeftButton, QtCore.Qt.NoModifier)
    QtWidgets.QApplication.sendEvent(window, drop)
    qtbot.waitUntil(lambda: len(panel.docs) == 1, timeout=5000)
    assert panel.docs[0].path == audio
    assert panel.recent_files()[0] == str(audio)
    panel.open_files([str(audio)])  # already open: selected, not duplicated
    assert len(panel.docs) == 1
    wait_idle(qtbot, panel)
    panel.close_current()
    assert panel.docs == [] and panel.view.doc is None
    panel.recent_menu.aboutToShow.emit()  # filled when shown
    actions = [a.text() for a in panel.recent_menu.actions()]
    assert str(audio) in actions


def test_keyboard_zoom_pan_and_readout(qtbot, file_panel, tmp_path):  # noqa: F811
    window, panel = file_panel
    audio = copy_data("speech_22k.wav", tmp_path)
    doc = panel.open_files([str(audio)])[0]
    wait_idle(qtbot, panel)
    view = panel.view
    view.pitch.setFocus()
    qtbot.waitUntil(view.pitch.hasFocus, timeout=2000)
    t0, t1 = view.visible_range()
    qtbot.keyClick(view.pitch, QtCore.Qt.Key_Plus)
    z0, z1 = view.visible_range()
    assert (z1 - z0) == pytest.approx((t1 - t0) / 2, rel=1e-3)
    qtbot.keyClick(view.pitch, QtCore.Qt.Key_Right)
    p0, p1 = view.visible_range()
    assert p0 == pytest.approx(z0 + 0.2 * (z1 - z0), rel=1e-3)
    qtbot.keyClick(view.pitch, QtCore.Qt.Key_Home)
    h0, h1 = view.visible_range()
    assert h0 == pytest.approx(0, abs=1e-6) and h1 == pytest.approx(doc.duration_s, rel=1e-6)
    # readout at a confident frame: time, Hz, note + cents, confidence
    i = int(np.argmax(doc.confidence))
    text = view.readout_text(float(doc.time_s[i]))
    hz = 440 * 2 ** ((float(doc.display_pitch(view.refined)[i]) - 69) / 12)
    assert f"{hz:.2f} Hz" in text and "¢" in text and f"conf {doc.confidence[i]:.2f}" in text
    # a mouse move over the plot shows the crosshair and the readout
    vb = view.pitch.getPlotItem().vb
    (_, _), (y0, y1) = vb.viewRange()
    scene_pos = vb.mapViewToScene(QtCore.QPointF(float(doc.time_s[i]), (y0 + y1) / 2))
    widget_pos = view.pitch.mapFromScene(scene_pos)
    qtbot.mouseMove(view.pitch.viewport(), widget_pos)
    qtbot.waitUntil(lambda: "Hz" in view.readout.text(), timeout=3000)
    assert view.cross_v.isVisible()
    # a click seeks the playhead there
    qtbot.mouseClick(view.pitch.viewport(), QtCore.Qt.LeftButton, pos=widget_pos)
    qtbot.waitUntil(lambda: abs(view.playhead.value() - float(doc.time_s[i])) < 0.05, timeout=3000)


def test_heatmap_overview_then_detail_when_zoomed(qtbot, file_panel, tmp_path, monkeypatch):  # noqa: F811
    import app.file.activations
    import app.file.view

    # as if the file were hours long: a coarse in-memory overview, details read back from the activation file
    monkeypatch.setattr(app.file.activations, "OVERVIEW_COLUMNS", 200)
    monkeypatch.setattr(app.file.view, "DETAIL_COLUMNS", 300)
    _, panel = file_panel
    audio = copy_data("speech_22k.wav", tmp_path)
    doc = panel.open_files([str(audio)])[0]
    wait_idle(qtbot, panel)
    view = panel.view
    assert doc.store.factor == 3 and isinstance(doc.store.full, np.memmap)
    info = view.heatmap_info
    assert info["source"] == "overview" and info["shape"][0] == 185  # 554 frames pooled by 3
    assert info["dt_s"] == pytest.approx(3 * doc.hop_length / doc.info.sr)
    assert 0 < info["shape"][1] < 384  # only the pitch range shown (plus a margin)
    view.pitch.setXRange(1.0, 2.0, padding=0)
    qtbot.waitUntil(lambda: view.heatmap_info["source"] == "detail", timeout=5000)
    info = view.heatmap_info
    frame_s = doc.hop_length / doc.info.sr
    assert info["dt_s"] == pytest.approx(frame_s)  # full resolution: one column per frame
    t0, t1 = info["t0_s"], info["t0_s"] + info["shape"][0] * info["dt_s"]
    assert t0 < 1.0 and t1 > 2.0  # covers the view
    # the detail equals the confidence-weighted activations of those frames
    f0 = int(round(info["t0_s"] / frame_s))
    b0, nb = info["first_bin"], info["shape"][1]
    track = doc.track()
    f1 = f0 + info["shape"][0]
    expected = track.activations[f0:f1, b0 : b0 + nb] * track.confidence[f0:f1, None]
    last = {}
    view.detail_ready.connect(lambda img: last.setdefault("img", img))
    view.set_heatmap_visible(True)  # ask again, catch the image
    qtbot.waitUntil(lambda: "img" in last, timeout=5000)
    np.testing.assert_allclose(last["img"], expected, rtol=0, atol=1e-7)


def test_view_draws_refined_pitch_and_refined_export_equals_cli_refine(qtbot, file_panel, tmp_path):  # noqa: F811
    _, panel = file_panel
    audio = copy_data("synth_16k.wav", tmp_path)
    doc = panel.open_files([str(audio)])[0]
    wait_idle(qtbot, panel)
    assert doc.pitch_refined is not None and np.isfinite(doc.pitch_refined).all()
    assert not np.array_equal(doc.pitch_refined, doc.pitch_semitones)  # it did refine something
    assert np.abs(doc.pitch_refined - doc.pitch_semitones).max() <= 0.5  # within the stage's bound
    # the view draws the refined pitch (gated), and PESTO's own when the option is off
    voiced = doc.confidence >= panel.view.gate

    def drawn():
        x, y = panel.view.pitch.curve.getData()
        frames = np.isin(x, doc.time_s)  # drop the gap points inserted at jumps
        return y[frames]

    np.testing.assert_array_equal(drawn()[voiced], doc.pitch_refined[voiced].astype(np.float64))
    assert np.isnan(drawn()[~voiced]).all()  # gated
    panel.settings_box.refined.setChecked(False)
    np.testing.assert_array_equal(drawn()[voiced], doc.pitch_semitones[voiced].astype(np.float64))
    # export of the refined pitch = pesto --refine
    app_dir, cli_dir = tmp_path / "app", tmp_path / "cli"
    with qtbot.waitSignal(panel.export_finished, timeout=60000) as sig:
        panel.export([doc], ExportOptions(("csv", "npz"), str(app_dir), refined=True))
    assert sig.args[1] == ""
    wait_idle(qtbot, panel)
    run_cli([str(audio), "-o", str(cli_dir), "-e", "csv", "npz", "--refine"])
    assert (app_dir / "synth_16k.f0.csv").read_bytes() == (cli_dir / "synth_16k.f0.csv").read_bytes()
    assert_npz_equal(app_dir / "synth_16k.f0.npz", cli_dir / "synth_16k.f0.npz")


def test_bad_checkpoint_and_dropped_folder(qtbot, file_panel, tmp_path):  # noqa: F811
    _, panel = file_panel
    bogus = tmp_path / "model.ckpt"
    bogus.write_text("not a checkpoint")
    panel.settings_box.set_analysis_settings(AnalysisSettings(model=str(bogus)))
    folder = tmp_path / "takes"
    folder.mkdir()
    copy_data("synth_16k.wav", folder)
    (folder / "readme.txt").write_text("x")
    panel.open_dropped([str(folder)])  # what a drop of a folder does: its audio files only
    assert [d.name for d in panel.docs] == ["synth_16k.wav"]
    wait_idle(qtbot, panel)
    doc = panel.docs[0]
    assert doc.state == fd.FAILED and str(bogus) in doc.message and "checkpoint" in doc.message
    assert panel.messages[-1][0] == "error" and str(bogus) in panel.messages[-1][1]
    # back to the bundled model: works
    panel.settings_box.set_analysis_settings(AnalysisSettings())
    panel.analyse_current()
    wait_idle(qtbot, panel)
    assert doc.state == fd.DONE


def test_export_dialog_writes_what_it_shows(qtbot, file_panel, tmp_path):  # noqa: F811
    from app.file.export import ExportDialog

    _, panel = file_panel
    audio = copy_data("synth_16k.wav", tmp_path)
    panel.open_files([str(audio)])
    wait_idle(qtbot, panel)
    panel.export_dialog()
    dialog = next(d for d in panel.open_dialogs() if isinstance(d, ExportDialog))
    assert not dialog.isModal() or dialog.windowModality() != QtCore.Qt.ApplicationModal
    dialog.checks["csv"].setChecked(True)
    dialog.checks["npz"].setChecked(False)
    dialog.checks["png"].setChecked(True)
    dialog.png_view.setChecked(True)
    dialog.next_to_audio.setChecked(False)
    dialog.folder.setText(str(tmp_path / "chosen"))
    with qtbot.waitSignal(panel.export_finished, timeout=60000) as sig:
        dialog.findChild(QtWidgets.QDialogButtonBox).button(QtWidgets.QDialogButtonBox.Ok).click()
    assert sig.args[1] == ""
    assert sorted(p.name for p in (tmp_path / "chosen").iterdir()) == ["synth_16k.f0.csv", "synth_16k.f0.png"]
    # remembered for next time
    assert panel.settings.get("export_dir", "") == str(tmp_path / "chosen")


def test_stereo_file_mixed_or_one_channel(qtbot, file_panel, tmp_path):  # noqa: F811
    from pesto_core.core import analyse_file, load_model

    _, panel = file_panel
    audio = write_tone(tmp_path / "stereo.wav", 3.0, channels=2)
    doc = panel.open_files([str(audio)])[0]
    assert panel.settings_box.channel.isEnabled() and panel.settings_box.channel.count() == 3
    wait_idle(qtbot, panel)
    defaults = AnalysisSettings()
    model = load_model(defaults.model, 10.0)  # the File tab's default model and decoding
    mixed = analyse_file(audio, model, viterbi=defaults.tracks)
    np.testing.assert_array_equal(doc.pitch_semitones, mixed.pitch_semitones)
    panel.settings_box.channel.setCurrentIndex(2)  # "Channel 2"
    assert doc.channel == 1
    assert "other settings" in panel.file_list.item(0).text()
    panel.analyse_current()
    wait_idle(qtbot, panel)
    second = analyse_file(audio, model, channel=1)
    np.testing.assert_array_equal(doc.confidence, second.confidence)
    assert not np.array_equal(doc.volume, mixed.volume)


def test_close_while_analysing_and_progress(qtbot, file_panel, tmp_path):  # noqa: F811
    _, panel = file_panel
    audio = write_tone(tmp_path / "long.wav", 120.0)
    doc = panel.open_files([str(audio)])[0]
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=60000)
    assert panel.progress.isVisible() or panel.progress.isVisibleTo(panel.progress.parentWidget() or panel)
    assert "analysing" in panel.file_list.item(0).text()
    store_path = doc.store.path
    panel.close_document(doc)
    assert panel.docs == [] and not store_path.exists()  # the activation file is gone
    wait_idle(qtbot, panel)
    assert panel.worker is None


def test_space_belongs_to_the_file_tab_only(qtbot, tmp_path):
    """The File tab's keys (Space...) are WidgetWithChildrenShortcut: with the focus in another tab (the Live tab
    has its own Space), they do nothing here."""
    from app.common.settings import Settings
    from app.file.panel import FilePanel

    tabs = QtWidgets.QTabWidget()
    other = QtWidgets.QLineEdit()
    tabs.addTab(other, "Live")
    panel = FilePanel(None, settings=Settings("file", path=tmp_path / "s.ini"), show_dialogs=False)
    tabs.addTab(panel, "File")
    qtbot.addWidget(tabs)
    tabs.show()
    qtbot.waitExposed(tabs)
    tabs.activateWindow()
    fired = []
    panel.shortcuts["Space"].activated.connect(lambda: fired.append(1))
    assert panel.shortcuts["Space"].context() == QtCore.Qt.WidgetWithChildrenShortcut
    other.setFocus()
    qtbot.waitUntil(other.hasFocus, timeout=3000)
    qtbot.keyClick(other, QtCore.Qt.Key_Space)
    assert fired == [] and other.text() == " "
    tabs.setCurrentWidget(panel)
    panel.view.pitch.setFocus()
    qtbot.waitUntil(panel.view.pitch.hasFocus, timeout=3000)
    qtbot.keyClick(panel.view.pitch, QtCore.Qt.Key_Space)
    assert fired == [1]
    panel.shutdown()


def test_viterbi_box_reanalyses_and_exports_follow_it(qtbot, file_panel, tmp_path):  # noqa: F811
    _, panel = file_panel
    box = panel.settings_box
    box.set_analysis_settings(AnalysisSettings())
    assert box.viterbi.isChecked() and box.viterbi.isEnabled()  # the File tab's default (pesto_core.presets)
    audio = copy_data("speech_22k.wav", tmp_path)
    doc = panel.open_files([str(audio)])[0]
    wait_idle(qtbot, panel)
    assert doc.track().decoding == "alwa+viterbi"
    tracked = doc.pitch_semitones.copy()
    box.viterbi.setChecked(False)  # other settings: the list says so; analysing again decodes frame by frame
    assert "(other settings)" in panel.file_list.item(0).text()
    panel.analyse_current()
    wait_idle(qtbot, panel)
    assert doc.complete and doc.track().decoding == "alwa"
    assert np.any(np.abs(doc.pitch_semitones - tracked) > 0.5)  # this take has frames the tracker corrects
    settings = box.analysis_settings()
    assert "--viterbi" not in settings.cli_options()
    app_dir, cli_dir = tmp_path / "app", tmp_path / "cli"
    with qtbot.waitSignal(panel.export_finished, timeout=60000) as sig:
        panel.export([doc], ExportOptions(("csv", "npz"), str(app_dir), refined=True))
    assert sig.args[1] == ""
    wait_idle(qtbot, panel)
    run_cli([str(audio), "-o", str(cli_dir), "-e", "csv", "npz", "--refine"], settings)
    assert_npz_equal(app_dir / "speech_22k.f0.npz", cli_dir / "speech_22k.f0.npz")
    box.reduction.setCurrentText("argmax")  # the tracker takes the alwa window: the box does not apply
    assert not box.viterbi.isEnabled() and not box.analysis_settings().tracks
    box.set_analysis_settings(AnalysisSettings())
    wait_idle(qtbot, panel)
