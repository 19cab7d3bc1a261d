"""Corpus runs (pesto_core.corpus): folders mirrored under -o, the collision rule, bad files named, the run summary,
-j and --ray giving the same bytes as a serial run, and --skip-existing after a run killed mid-way."""

import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pesto_core.cli import main
from pesto_core.corpus.inputs import AUDIO_EXTENSIONS, CollisionError, plan_outputs
from pesto_core.corpus.summary import COLUMNS, write_summary

ROOT = Path(__file__).resolve().parents[2]


def tone(path: Path, seconds: float, sr: int = 16000, f0: float = 220.0, seed: int = 0, subtype=None):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f_hz = f0 * (1 + 0.03 * np.sin(2 * np.pi * 0.5 * t))  # a slow vibrato
    x = 0.3 * np.sin(2 * np.pi * np.cumsum(f_hz) / sr) + 0.01 * rng.standard_normal(t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x.astype(np.float32), sr, subtype=subtype)


def make_tree(root: Path) -> Path:
    """speaker1/001.wav and speaker2/001.wav (same name, two folders), same/take.wav + same/take.flac (same stem,
    one folder), a text file, a corrupt WAV, an empty folder, a hidden folder, and a long file (several tiles)."""
    corpus = root / "corpus"
    tone(corpus / "speaker1" / "001.wav", 1.5, f0=200, seed=1)
    tone(corpus / "speaker2" / "001.wav", 2.0, sr=22050, f0=300, seed=2)
    tone(corpus / "speaker2" / "deep" / "002.wav", 1.0, sr=44100, f0=150, seed=3)
    tone(corpus / "same" / "take.wav", 1.2, f0=250, seed=4)
    tone(corpus / "same" / "take.flac", 1.2, f0=330, seed=5)
    tone(corpus / "long.wav", 31.0, sr=16000, f0=180, seed=6)  # 3101 frames: whole-VQT limit passed, 7 tiles
    (corpus / "notes.txt").write_text("not audio\n")
    good = (corpus / "speaker1" / "001.wav").read_bytes()
    (corpus / "speaker1" / "corrupt.wav").write_bytes(good[: len(good) // 3])
    (corpus / "empty").mkdir()
    tone(corpus / ".hidden" / "ignored.wav", 0.5)
    return corpus


EXPECTED = {  # input (relative to corpus) -> result (relative to -o)
    "long.wav": "long.f0.csv",
    "same/take.flac": "same/take.flac.f0.csv",
    "same/take.wav": "same/take.wav.f0.csv",
    "speaker1/001.wav": "speaker1/001.f0.csv",
    "speaker2/001.wav": "speaker2/001.f0.csv",
    "speaker2/deep/002.wav": "speaker2/deep/002.f0.csv",
}


def run(args, capsys):
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def subprocess_env():
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    return env


def results(out: Path) -> dict:
    """Result files under ``out`` (relative path -> bytes), summaries excluded."""
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*.csv"))
        if not p.name.startswith("pesto-run")
    }


def read_summary(out: Path) -> list:
    paths = sorted(out.glob("pesto-run-*.csv"))
    assert len(paths) == 1, paths
    with open(paths[0], newline="") as f:
        table = list(csv.DictReader(f))
    assert list(table[0].keys()) == list(COLUMNS)
    return table


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_tree(tmp_path_factory.mktemp("tree"))


@pytest.fixture(scope="module")
def serial(tree, tmp_path_factory):
    """The serial run (this process) of the whole tree: the reference for the other modes."""
    out = tmp_path_factory.mktemp("serial") / "out"
    code = main([str(tree), "-o", str(out), "-j", "1", "-q"])
    return code, out


def test_tree_is_mirrored_and_nothing_overwritten(tree, serial):
    code, out = serial
    assert code == 1  # the corrupt file
    assert sorted(results(out)) == sorted(EXPECTED.values())
    assert not list(out.rglob("*.part")) and not [p for p in out.rglob(".*")]
    # the same-stem pair wrote two different results (no overwrite): different tones
    a = np.loadtxt((out / "same/take.wav.f0.csv").read_text().splitlines()[1:], delimiter=",")
    b = np.loadtxt((out / "same/take.flac.f0.csv").read_text().splitlines()[1:], delimiter=",")
    assert np.median(a[:, 1]) == pytest.approx(250, rel=0.03) and np.median(b[:, 1]) == pytest.approx(330, rel=0.03)
    # the two 001.wav are not mixed up either
    s2 = np.loadtxt((out / "speaker2/001.f0.csv").read_text().splitlines()[1:], delimiter=",")
    assert np.median(s2[:, 1]) == pytest.approx(300, rel=0.03)
    assert s2[1, 0] == pytest.approx(221 / 22050, abs=1e-6)  # its own sample rate's hop (220.5 rounded up)


def test_summary_lists_every_input(tree, serial):
    _code, out = serial
    table = read_summary(out)
    by_path = {str(Path(r["path"]).relative_to(tree)): r for r in table}
    assert set(by_path) == set(EXPECTED) | {"notes.txt", "speaker1/corrupt.wav"}  # hidden folder not walked
    for rel, result in EXPECTED.items():
        row = by_path[rel]
        assert row["status"] == "ok" and row["reason"] == ""
        assert row["output"] == str(out / result)[: -len(".csv")]
        assert int(row["frames"]) == len((out / result).read_text().splitlines()) - 1
        assert float(row["compute_s"]) > 0 and row["worker"]
    long = by_path["long.wav"]
    assert float(long["duration_s"]) == pytest.approx(31.0) and long["sr"] == "16000"
    assert 0.7 < float(long["voiced_share"]) <= 1 and float(long["median_f0_hz"]) == pytest.approx(180, rel=0.03)
    assert by_path["speaker1/corrupt.wav"]["status"] == "failed"
    assert "truncated" in by_path["speaker1/corrupt.wav"]["reason"]
    assert by_path["notes.txt"]["status"] == "skipped" and "not an audio file" in by_path["notes.txt"]["reason"]


def test_bad_file_is_named_and_progress_and_summary_reported(tree, tmp_path, capsys):
    code, err = run([tree / "speaker1", tree / "notes.txt", "-o", tmp_path / "out", "-j", "1"], capsys)
    assert code == 1
    assert f"pesto: error: {tree / 'speaker1' / 'corrupt.wav'}: truncated" in err
    assert f"pesto: error: {tree / 'notes.txt'}: not a readable audio file" in err  # named: analysed, fails
    assert "pesto: 2 of 3 file(s) failed" in err
    assert "3/3 files" in err and "h audio" in err and "x real time" in err
    assert "pesto: run summary: " + str(tmp_path / "out") in err
    assert (tmp_path / "out" / "001.f0.csv").exists()
    code, err = run([tree / "speaker1", "-o", tmp_path / "quiet", "-j", "1", "-q"], capsys)
    assert code == 1 and "files," not in err and "summary" not in err and "corrupt.wav: truncated" in err


def test_j2_gives_the_same_bytes_as_serial(tree, serial, tmp_path, capsys):
    _code, out = serial
    code, err = run([tree, "-o", tmp_path / "out", "-j", "2", "-q"], capsys)
    assert code == 1 and "corrupt.wav: truncated" in err
    assert results(tmp_path / "out") == results(out)
    workers = {r["worker"] for r in read_summary(tmp_path / "out") if r["status"] == "ok"}
    assert len(workers) == 2  # really two processes


def test_ray_gives_the_same_bytes_as_serial(tree, serial, tmp_path):
    """A real local Ray instance, started and stopped by the command (no mock). Relative paths: the actors get
    absolute ones (an actor's working folder is not the command's)."""
    if not os.environ.get("CI"):
        pytest.importorskip("ray")
    _code, out = serial
    start = time.monotonic()
    ray_tmp = tempfile.mkdtemp(prefix="pesto-ray-", dir="/tmp")  # short: Ray's socket paths live below it
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pesto_core", os.path.relpath(tree, tmp_path), "-o", "out", "--ray", "-j", "2"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=dict(subprocess_env(), RAY_TMPDIR=ray_tmp),
            timeout=240,
        )
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert proc.returncode == 1, proc.stderr
    assert "Ray local instance: 2 CPU(s)" in proc.stderr and "corrupt.wav: truncated" in proc.stderr
    assert results(tmp_path / "out") == results(out)
    table = read_summary(tmp_path / "out")
    assert len({r["worker"] for r in table if r["status"] == "ok"}) == 2
    assert all(not os.path.isabs(r["path"]) and not os.path.isabs(r["output"]) for r in table)  # as given
    print(f"ray run: {time.monotonic() - start:.1f} s")

    # the local instance is gone: no process mentions its private temporary folder any more (other Ray instances
    # on a shared machine are not ours and do not count)
    def ours():
        found = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if ray_tmp.encode() in cmdline.read_bytes():
                    found.append(cmdline.parent.name)
            except OSError:
                pass
        return found

    deadline = time.monotonic() + 15  # processes being reaped as the command exits
    while ours() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not ours(), f"Ray processes left: {ours()}"


def test_ray_missing_says_how_to_install(tree, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    code, err = run([tree / "speaker1" / "001.wav", "-o", tmp_path, "--ray", "-q"], capsys)
    assert code == 2 and "pip install 'pesto-tracker[cluster]'" in err
    assert not (tmp_path / "001.f0.csv").exists()


def test_files_from_two_folders_into_one_output_are_refused(tree, tmp_path, capsys):
    code, err = run([tree / "speaker1" / "001.wav", tree / "speaker2" / "001.wav", "-o", tmp_path / "out"], capsys)
    assert code == 2
    assert "would be written by several inputs" in err and "nothing was analysed" in err
    assert str(tree / "speaker1" / "001.wav") in err and str(tree / "speaker2" / "001.wav") in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(CollisionError):
        plan_outputs([str(tree / "speaker1" / "001.wav"), str(tree / "speaker2" / "001.wav")], str(tmp_path))


def test_quoted_glob_mirrors_below_its_fixed_folder(tree, tmp_path, capsys):
    code, err = run([str(tree / "*" / "001.wav"), "-o", tmp_path / "out", "-q", "-j", "1"], capsys)
    assert code == 0, err
    assert sorted(results(tmp_path / "out")) == ["speaker1/001.f0.csv", "speaker2/001.f0.csv"]


def test_same_file_twice_is_analysed_once(tree, tmp_path, capsys):
    wav = tree / "speaker1" / "001.wav"
    code, err = run(
        [wav, str(wav).replace("/speaker1/", "/speaker1/./"), tree / "speaker1", "-o", tmp_path, "-q", "-j", "1"],
        capsys,
    )
    assert code == 1  # corrupt.wav from the folder
    assert "same file as input 1" in err
    table = read_summary(tmp_path)
    assert [r["status"] for r in table].count("ok") == 1
    assert sorted(results(tmp_path)) == ["001.f0.csv"]


def test_without_output_results_go_next_to_inputs(tmp_path, capsys):
    tone(tmp_path / "c" / "x" / "a.wav", 0.5)
    tone(tmp_path / "c" / "a.ogg", 0.5)
    tone(tmp_path / "c" / "a.wav", 0.5)
    code, err = run([tmp_path / "c", "-q", "-j", "1"], capsys)
    assert code == 0, err
    assert (tmp_path / "c" / "x" / "a.f0.csv").exists()
    assert (tmp_path / "c" / "a.wav.f0.csv").exists() and (tmp_path / "c" / "a.ogg.f0.csv").exists()
    assert len(read_summary(tmp_path / "c")) == 3
    # a second run in place: results and summaries are not inputs, the first summary is kept
    code, err = run([tmp_path / "c", "-q", "-j", "1", "--skip-existing"], capsys)
    assert code == 0, err
    assert len(list((tmp_path / "c").glob("pesto-run-*.csv"))) == 2


def test_results_of_an_earlier_run_are_not_replaced_without_a_word(tmp_path, capsys):
    tone(tmp_path / "a.wav", 0.5)
    tone(tmp_path / "b.wav", 0.5)
    code, err = run([tmp_path / "a.wav", tmp_path / "b.wav", "-q", "-j", "1"], capsys)
    assert code == 0 and "replacing" not in err, err
    (tmp_path / "a.f0.csv").write_text("stale\n")  # an earlier run's result, recognisable
    (tmp_path / "b.f0.csv").unlink()
    # replaced as upstream pesto does, but said on stderr (even with -q), naming the file and the way to keep it
    code, err = run([tmp_path / "a.wav", tmp_path / "b.wav", "-q", "-j", "1", "-e", "csv", "npz"], capsys)
    assert code == 0, err
    assert f"replacing 1 result file(s) of an earlier run ({tmp_path / 'a.f0.csv'})" in err, err
    assert "--skip-existing keeps them" in err
    assert (tmp_path / "a.f0.csv").read_text() != "stale\n" and (tmp_path / "b.f0.npz").exists()
    # two of them: the first named, the count of the others
    code, err = run([tmp_path / "a.wav", "-q", "-j", "1", "-e", "csv", "npz"], capsys)
    assert code == 0 and "replacing 2 result file(s)" in err and "and 1 more" in err, err
    # kept with --skip-existing: nothing replaced, nothing said about replacing
    code, err = run([tmp_path / "a.wav", "-q", "-j", "1", "--skip-existing"], capsys)
    assert code == 0 and "replacing" not in err, err


def test_empty_folder_and_no_audio(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, err = run([tmp_path / "empty", "-q"], capsys)
    assert code == 1 and "folder holds no audio file" in err and "no audio file to analyse" in err


def test_summary_is_never_replaced(tmp_path):
    first = write_summary(tmp_path / "pesto-run-x.csv", [["a", "ok"] + [""] * 9])
    second = write_summary(tmp_path / "pesto-run-x.csv", [["b", "ok"] + [""] * 9])
    assert first.name == "pesto-run-x.csv" and second.name == "pesto-run-x-2.csv"
    assert "a,ok" in first.read_text() and "b,ok" in second.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pesto-run-x-2.csv", "pesto-run-x.csv"]


def test_audio_extensions_cover_what_libsndfile_reads():
    assert {"wav", "flac", "ogg", "mp3", "aiff", "opus"} <= AUDIO_EXTENSIONS
    assert "txt" not in AUDIO_EXTENSIONS and "csv" not in AUDIO_EXTENSIONS


def test_skip_existing_after_a_killed_run_redoes_only_the_missing(tmp_path):
    corpus = tmp_path / "corpus"
    n = 14
    for i in range(n):
        tone(corpus / f"s{i % 3}" / f"{i:03d}.wav", 8.0, f0=150 + 10 * i, seed=i)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "pesto_core", str(corpus), "-o", str(out), "-j", "1", "-q"]
    proc = subprocess.Popen(
        cmd,
        cwd=tmp_path,
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    try:
        while len(results(out) if out.exists() else {}) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the process group of the command we started, nothing else
        proc.wait()
    first = {p: (out / p).stat() for p in results(out)}
    assert 2 <= len(first) < n, f"the run was not killed mid-way ({len(first)} of {n} done)"
    assert not list(out.glob("pesto-run-*.csv"))  # killed: no summary
    rerun = subprocess.run(
        cmd + ["--skip-existing"], cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    after = results(out)
    assert len(after) == n
    for p, st in first.items():  # kept as they were, not rewritten
        now = (out / p).stat()
        assert (now.st_ino, now.st_mtime_ns) == (st.st_ino, st.st_mtime_ns), p
    table = read_summary(out)
    done = {str(Path(r["output"]).relative_to(out)) + ".csv": r["status"] for r in table}
    assert {p for p, s in done.items() if s == "skipped"} == set(first)
    assert {p for p, s in done.items() if s == "ok"} == set(after) - set(first)
    assert all(r["reason"] == "results already exist (--skip-existing)" for r in table if r["status"] == "skipped")
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]
    # the results equal an uninterrupted run's
    clean = tmp_path / "clean"
    assert main([str(corpus), "-o", str(clean), "-j", "1", "-q"]) == 0
    assert results(clean) == after


def _pool_workers(pid: int) -> list:
    """Pids of the pool's worker processes among the children of ``pid`` (Linux /proc)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    found = []
    for child in children:
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
        except OSError:
            pass
    return found


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to find the worker processes")
def test_a_killed_worker_process_does_not_lose_files(tmp_path):
    """A worker of -j 2 killed mid-run (as the OOM killer would): its files are given to a fresh pool, every file
    gets its result, the exit status is 0."""
    corpus = tmp_path / "corpus"
    n = 12
    for i in range(n):
        tone(corpus / f"{i:03d}.wav", 6.0, f0=150 + 10 * i, seed=i)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pesto_core", str(corpus), "-o", str(out), "-j", "2", "-q"],
        cwd=tmp_path,
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (out.exists() and results(out)) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        workers = _pool_workers(proc.pid)
        assert workers and proc.poll() is None, "the run ended before a worker could be killed"
        os.kill(workers[0], signal.SIGKILL)  # a worker process of the command we started
        _out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err
    assert len(results(out)) == n
    assert all(r["status"] == "ok" for r in read_summary(out))


def test_help_states_the_collision_rule(capsys):
    with pytest.raises(SystemExit):
        main(["-h"])
    out = capsys.readouterr().out
    assert "take.wav.f0.csv, take.flac.f0.csv" in out and "refused before any work" in out
    assert "--skip-existing" in out and "--ray [ADDRESS]" in out and "-j N" in out


def test_api_batch_loop_refuses_colliding_results(tree, tmp_path):
    from pesto_core import ParameterError, predict_from_files

    with pytest.raises(ParameterError, match="would both write"):
        predict_from_files([str(tree / "speaker1" / "001.wav"), str(tree / "speaker2" / "001.wav")], output=tmp_path)
    assert not list(tmp_path.iterdir())


def test_corpus_modules_do_not_import_torch_or_ray():
    """`pesto -h` stays fast: planning, running and summarising import the engine (torch) only in the workers."""
    code = (
        "import sys, pesto_core.cli\n"
        "for m in ('inputs', 'worker', 'runner', 'ray_runner', 'progress', 'summary', 'command'):\n"
        "    __import__('pesto_core.corpus.' + m)\n"
        "print(sorted(m for m in ('torch', 'ray') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=subprocess_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
