"""Audio capture: a PortAudio input stream (python-sounddevice) that fills a :class:`~app.live.ringbuffer.RingBuffer`.

``sounddevice`` is imported lazily: its Linux wheel does not bundle the PortAudio library, and importing it without
one raises ``OSError``. That, no input device, a device that refuses the sample rate or disappears while recording
all become a :class:`CaptureError` or a fault message (:meth:`AudioCapture.fault`) that the window shows; the rest
of the app keeps working.

Threads: the callback runs in PortAudio's thread and only copies into the ring, counts, and wakes the worker. Every
other method is called from the GUI thread.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import List, Optional, Union

import numpy as np

from .ringbuffer import RingBuffer

PORTAUDIO_HELP = (
    "Live capture needs the PortAudio library, which the sounddevice package does not bundle on "
    "Linux: install it (Debian/Ubuntu: sudo apt install libportaudio2) and restart. "
    "File analysis works without it."
)

# No callback for this long means the device stopped delivering audio. The first callback gets longer: PulseAudio
# through ALSA takes about 1.5 s to deliver the first block.
FIRST_BLOCK_TIMEOUT_S = 6.0
STALL_TIMEOUT_S = 1.5


class CaptureError(Exception):
    """Live capture is impossible; the message says why, naming the device, and what the user can do."""


_sounddevice = None


def import_sounddevice():
    """The ``sounddevice`` module, imported on first use. Raises :class:`CaptureError` when PortAudio is missing."""
    global _sounddevice
    if _sounddevice is None:
        try:
            import sounddevice  # lazy on purpose: it loads the PortAudio library
        except OSError as e:  # the wheel found no libportaudio
            raise CaptureError(f"PortAudio library not found ({e}). {PORTAUDIO_HELP}") from None
        except ImportError as e:
            raise CaptureError(f"The sounddevice package is missing ({e}): pip install sounddevice") from None
        _sounddevice = sounddevice
    return _sounddevice


@dataclass(frozen=True)
class InputDevice:
    """An audio input as PortAudio lists it."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    default_samplerate: float
    is_default: bool

    @property
    def label(self) -> str:
        return f"{self.name} ({self.hostapi})" + (" \u2013 default" if self.is_default else "")


def list_input_devices(refresh: bool = False) -> List[InputDevice]:
    """Input devices (at least one input channel). ``refresh`` re-scans (PortAudio lists devices only at start-up;
    only call it while no stream is open)."""
    sd = import_sounddevice()
    if refresh:
        sd._terminate()  # noqa: SLF001 (the documented way to make PortAudio re-scan the hardware)
        sd._initialize()  # noqa: SLF001
    default_in = _default_input_index(sd)
    out = []
    for info in sd.query_devices():
        if info["max_input_channels"] > 0:
            out.append(
                InputDevice(
                    int(info["index"]),
                    str(info["name"]),
                    sd.query_hostapis(info["hostapi"])["name"],
                    int(info["max_input_channels"]),
                    float(info["default_samplerate"]),
                    int(info["index"]) == default_in,
                )
            )
    return out


def _default_input_index(sd) -> int:
    try:
        idx = sd.default.device[0]
        if idx is None or idx < 0:
            idx = sd.query_hostapis(0)["default_input_device"]
        return int(idx)
    except Exception:  # noqa: BLE001 (no host API at all)
        return -1


@dataclass(frozen=True)
class CaptureInfo:
    """What was actually opened."""

    device_name: str
    sr: int
    channels: int
    blocksize: int
    latency_s: float
    notice: str = ""  # e.g. the sample-rate fall-back, for the user


class AudioCapture:
    """Owns one PortAudio input stream and the ring buffer its callback fills.

    Parameters
    ----------
    ring_seconds : float
        Length of the ring buffer: how far the worker may fall behind before it must skip audio.
    """

    def __init__(self, ring_seconds: float = 3.0):
        self.ring_seconds = ring_seconds
        self.ring: Optional[RingBuffer] = None
        self.info: Optional[CaptureInfo] = None
        self.wakeup = threading.Event()  # set by the callback after each block: the worker waits on it
        self._stream = None
        self._closing = False
        self._reset_counters()

    def _reset_counters(self) -> None:
        self.overflows = 0  # blocks PortAudio flagged as input overflow (audio lost before we saw it)
        self.callbacks = 0
        self.last_arrival_s = 0.0
        self.started_s = 0.0
        self.finished = False
        self.callback_error: Optional[str] = None

    # ---------------------------------------------------------------------------------------------------- GUI side
    @property
    def running(self) -> bool:
        return self._stream is not None

    def open(
        self, device: Union[None, int, str] = None, sr: Optional[int] = None, *, blocksize: Union[int, callable] = 0
    ) -> CaptureInfo:
        """Open and start the input stream.

        Parameters
        ----------
        device : None (system default input), int (PortAudio index) or str (device name, as listed)
        sr : int, optional
            Wanted sample rate in Hz; None for the device's default. If the device refuses it, the device's
            default is used and :attr:`CaptureInfo.notice` says so.
        blocksize : int or callable(sr) -> int
            Samples per callback (0: PortAudio chooses); a callable gets the final sample rate.

        Raises
        ------
        CaptureError
            PortAudio missing, no input device, the device cannot be opened.
        """
        self.close()
        sd = import_sounddevice()
        index, dev = self._resolve(sd, device)
        name = str(dev["name"])
        notice = ""
        default_sr = int(round(float(dev["default_samplerate"])))
        want_sr = int(sr) if sr else default_sr
        channels = 1
        try:
            sd.check_input_settings(device=index, channels=1, dtype="float32", samplerate=want_sr)
        except Exception as e:  # noqa: BLE001 (PortAudioError or ValueError, the message is what matters)
            if "channel" in str(e).lower() and dev["max_input_channels"] >= 2:
                channels = 2  # some hardware only opens in stereo: mix it down in the callback
            elif want_sr != default_sr:
                notice = (
                    f"{name} does not support {want_sr} Hz ({_short(e)}): using its default rate "
                    f"{default_sr} Hz instead."
                )
                want_sr = default_sr
        self.ring = RingBuffer(int(round(self.ring_seconds * want_sr)))
        self._reset_counters()
        self.wakeup.clear()
        bs = blocksize(want_sr) if callable(blocksize) else int(blocksize)
        try:
            stream = self._make_stream(sd, index, want_sr, channels, bs)
        except Exception as e:  # noqa: BLE001
            if want_sr != default_sr and "sample rate" in str(e).lower():
                notice = (
                    f"{name} does not support {want_sr} Hz ({_short(e)}): using its default rate "
                    f"{default_sr} Hz instead."
                )
                want_sr = default_sr
                self.ring = RingBuffer(int(round(self.ring_seconds * want_sr)))
                bs = blocksize(want_sr) if callable(blocksize) else int(blocksize)
                try:
                    stream = self._make_stream(sd, index, want_sr, channels, bs)
                except Exception as e2:  # noqa: BLE001
                    raise CaptureError(f"Cannot open input device '{name}': {_short(e2)}") from None
            else:
                raise CaptureError(f"Cannot open input device '{name}': {_short(e)}") from None
        self._stream = stream
        self._closing = False
        self.started_s = time.monotonic()
        try:
            stream.start()
        except Exception as e:  # noqa: BLE001
            self.close()
            raise CaptureError(f"Cannot start input device '{name}': {_short(e)}") from None
        self.info = CaptureInfo(name, int(stream.samplerate), channels, bs, float(stream.latency), notice)
        return self.info

    def _resolve(self, sd, device):
        """(index, device dict) for a name/index/None, or CaptureError."""
        try:
            devices = sd.query_devices()
        except Exception as e:  # noqa: BLE001
            raise CaptureError(f"Cannot list audio devices: {_short(e)}") from None
        inputs = [d for d in devices if d["max_input_channels"] > 0]
        if not inputs:
            raise CaptureError(
                "No audio input device found. Connect a microphone (or enable one in the system's "
                "sound settings), then press Start again."
            )
        if device is None or device == "":
            idx = _default_input_index(sd)
            if idx < 0 or devices[idx]["max_input_channels"] <= 0:
                idx = int(inputs[0]["index"])
            return idx, devices[idx]
        if isinstance(device, (int, np.integer)):
            if 0 <= device < len(devices) and devices[device]["max_input_channels"] > 0:
                return int(device), devices[device]
            raise CaptureError(f"Input device #{device} does not exist (any more). Choose another one.")
        for d in inputs:
            if d["name"] == device:
                return int(d["index"]), d
        raise CaptureError(f"Input device '{device}' is not available (unplugged?). Choose another one.")

    def _make_stream(self, sd, index: int, sr: int, channels: int, blocksize: int):
        self._channels = channels
        return sd.InputStream(
            device=index,
            samplerate=sr,
            channels=channels,
            dtype="float32",
            blocksize=blocksize,
            latency="low",
            callback=self._callback,
            finished_callback=self._finished,
        )

    def close(self) -> None:
        """Stop and close the stream (idempotent). The ring stays readable."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        self._closing = True
        for step in (stream.abort, stream.close):
            try:
                step()
            except Exception:  # noqa: BLE001 (a vanished device may fail to close: it is gone either way)
                pass

    def fault(self, now: Optional[float] = None) -> Optional[str]:
        """A message if the running stream has failed (device removed, erroring, silent), else None. GUI thread."""
        if self._stream is None or self.info is None:
            return None
        now = time.monotonic() if now is None else now
        name = self.info.device_name
        if self.callback_error:
            return f"Capture from '{name}' failed: {self.callback_error}"
        if self.finished and not self._closing:
            return (
                f"The input device '{name}' stopped (disconnected or taken by another program?). "
                "Capture stopped: press Start to try again."
            )
        if self.callbacks == 0 and now - self.started_s > FIRST_BLOCK_TIMEOUT_S:
            return (
                f"No audio arrives from '{name}' ({FIRST_BLOCK_TIMEOUT_S:.0f} s after opening it). "
                "Capture stopped: check the device, then press Start again."
            )
        if self.callbacks > 0 and now - self.last_arrival_s > STALL_TIMEOUT_S:
            return (
                f"The input device '{name}' stopped delivering audio "
                f"({now - self.last_arrival_s:.1f} s without a block; disconnected?). "
                "Capture stopped: press Start to try again."
            )
        return None

    # ------------------------------------------------------------------------------------------ PortAudio's thread
    def _callback(self, indata, frames, time_info, status):
        """PortAudio's thread: copy into the ring, count, wake the worker. Nothing else."""
        now = time.monotonic()
        try:
            if status.input_overflow:
                self.overflows += 1
            self.ring.write(indata[:, 0] if self._channels == 1 else indata.mean(axis=1), now)
            self.callbacks += 1
            self.last_arrival_s = now
            self.wakeup.set()
        except Exception as e:  # noqa: BLE001 (reported through fault(); PortAudio's thread must not raise)
            self.callback_error = f"{type(e).__name__}: {e}"
            raise _sounddevice.CallbackAbort from None

    def _finished(self):
        """PortAudio's thread: the stream ended (closed by us, or by an error)."""
        self.finished = True
        self.wakeup.set()


def _short(e: Exception) -> str:
    """First line of an exception's message (PortAudio adds long host-API traces)."""
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
