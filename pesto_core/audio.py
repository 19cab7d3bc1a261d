"""Reading audio files for analysis: any format libsndfile reads (WAV, FLAC, OGG/Opus, MP3...), mixed to mono.

Files are read in blocks on demand (:class:`AudioReader`), so an hour-long recording is never held in memory as a
whole, and every block is checked (NaN/Inf samples, truncation) so that a bad file gives a message naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import soundfile as sf

from .errors import AudioError


@dataclass(frozen=True)
class AudioInfo:
    """What the header of an audio file says."""

    path: Path
    sr: int
    n_samples: int
    channels: int
    format: str

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sr


def audio_info(path: str | Path) -> AudioInfo:
    """Header of an audio file; raises :class:`AudioError` with the reason if it cannot be analysed."""
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    try:
        info = sf.info(str(path))
    except Exception as e:  # soundfile raises RuntimeError / LibsndfileError for non-audio or corrupt files
        raise AudioError(f"{path}: not a readable audio file ({_reason(e)})") from None
    if info.frames <= 0:
        raise AudioError(f"{path}: contains no audio (zero length)")
    missing = _wav_missing_bytes(path) if info.format in ("WAV", "WAVEX", "RF64") else 0
    if missing > 0:
        raise AudioError(
            f"{path}: truncated: the WAV header announces {missing} more bytes of audio than the file holds"
        )
    if info.samplerate <= 0 or info.channels <= 0:
        raise AudioError(f"{path}: invalid header (sample rate {info.samplerate}, {info.channels} channels)")
    return AudioInfo(path, int(info.samplerate), int(info.frames), int(info.channels), str(info.format))


def _wav_missing_bytes(path: Path) -> int:
    """Bytes of the 'data' chunk that a RIFF/WAVE header announces but the file lacks (0 if complete).

    libsndfile silently reads a truncated WAV as a shorter one; a recording cut by a crash should be reported.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return 0
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk = f.read(8)
            length = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                if length in (0xFFFFFFFF, 0):  # streaming writers leave the size unset
                    return 0
                return max(0, pos + 8 + length - size)
            pos += 8 + length + (length & 1)
    return 0


def _reason(e: Exception) -> str:
    text = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
    return text.replace("Error opening", "cannot open").strip()


class AudioReader:
    """Random-access mono reader: ``reader(start, stop)`` returns samples ``[start, stop)`` as float32.

    Parameters
    ----------
    path : file path
    channel : int, optional
        Read this channel only (0-based); default: the mean of all channels.
    """

    def __init__(self, path: str | Path, channel: Optional[int] = None):
        self.info = audio_info(path)
        if channel is not None and not 0 <= channel < self.info.channels:
            raise AudioError(
                f"{self.info.path}: has {self.info.channels} channel(s), channel {channel} requested "
                "(channels are numbered from 0)"
            )
        self.channel = channel
        self._file = sf.SoundFile(str(self.info.path))
        self._pos = 0

    @property
    def sr(self) -> int:
        return self.info.sr

    @property
    def n_samples(self) -> int:
        return self.info.n_samples

    def __call__(self, start: int, stop: int) -> np.ndarray:
        if not 0 <= start <= stop <= self.n_samples:
            raise IndexError(f"samples [{start}, {stop}) outside [0, {self.n_samples})")
        try:
            if start != self._pos:
                self._file.seek(start)
            block = self._file.read(stop - start, dtype="float32", always_2d=True)
        except Exception as e:
            raise AudioError(
                f"{self.info.path}: corrupt or truncated audio data near sample {start} ({_reason(e)})"
            ) from None
        self._pos = start + len(block)
        if len(block) < stop - start:
            raise AudioError(
                f"{self.info.path}: truncated or corrupt: the header announces {self.n_samples} "
                f"samples but reading stopped at {start + len(block)}"
            )
        mono = (
            block[:, self.channel]
            if self.channel is not None
            else (block[:, 0] if block.shape[1] == 1 else block.mean(axis=1, dtype=np.float32))
        )
        if not np.isfinite(mono).all():
            bad = start + int(np.flatnonzero(~np.isfinite(mono))[0])
            raise AudioError(
                f"{self.info.path}: contains NaN or infinite samples (first at sample {bad}, {bad / self.sr:.3f} s)"
            )
        return np.ascontiguousarray(mono)

    def read_all(self) -> np.ndarray:
        """The whole signal, float32, shape (n_samples,)."""
        return self(0, self.n_samples)

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def load_audio(path: str | Path, channel: Optional[int] = None) -> tuple[np.ndarray, int]:
    """Whole file as mono float32 ``(samples,)`` and its sample rate in Hz."""
    with AudioReader(path, channel) as reader:
        return reader.read_all(), reader.sr
