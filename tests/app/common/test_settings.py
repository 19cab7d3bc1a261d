"""Settings: typed round trip through a real INI file, defaults for missing or corrupt values."""

from app.common.settings import Settings


def test_round_trip_types(tmp_path):
    path = tmp_path / "s.ini"
    s = Settings("live", path=path)
    s.set("sr", 44100)
    s.set("step_ms", 5.0)
    s.set("heatmap", False)
    s.set("device", "USB Mic")
    s.set("recent", ["a.wav", "b.wav"])
    s.set("one", ["only.wav"])
    s.sync()
    t = Settings("live", path=path)
    assert t.get("sr", 48000) == 44100 and isinstance(t.get("sr", 48000), int)
    assert t.get("step_ms", 10.0) == 5.0
    assert t.get("heatmap", True) is False
    assert t.get("device", "") == "USB Mic"
    assert t.get("recent", []) == ["a.wav", "b.wav"]
    assert t.get("one", []) == ["only.wav"]
    assert t.get("missing", 3.5) == 3.5
    # groups keep panels apart
    assert Settings("file", path=path).get("sr", 123) == 123


def test_corrupt_values_fall_back_to_defaults(tmp_path):
    path = tmp_path / "s.ini"
    path.write_text("[live]\nsr=forty-eight\nheatmap=maybe\ngate=nan\nstep_ms=inf\n")
    s = Settings("live", path=path)
    assert s.get("sr", 48000) == 48000
    assert s.get("heatmap", True) is True
    assert s.get("gate", 0.5) == 0.5
    assert s.get("sr", 48000) == 48000
    assert s.get("step_ms", 10) == 10  # int default: inf cannot be an int
