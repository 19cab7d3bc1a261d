"""Playback of an audio file through sounddevice (PortAudio), with a position the GUI polls for its cursor.

Threads:

* a feeder thread reads the file block by block (never the whole file: an hour of stereo 48 kHz is 1.4 GB as
  float32) into a small queue;
* PortAudio's callback only copies queued blocks into the output buffer and counts frames (no file I/O, no Qt, no
  locks held for long);
* the GUI thread calls :meth:`Player.play`, :meth:`Player.pause`, :meth:`Player.seek` and polls
  :meth:`Player.position_s` from a timer.

When sounddevice cannot be used (PortAudio library missing, no output device) the player says why in
:attr:`Player.reason` and :attr:`Player.available` is False; the rest of the app works without it.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Optional

import numpy as np
import soundfile as sf

BLOCK_FRAMES = 4096
QUEUE_BLOCKS = 16  # ~1.4 s at 48 kHz buffered ahead


def load_sounddevice():
    """``(module, None)`` or ``(None, reason)`` when sounddevice/PortAudio cannot be used here."""
    try:
        import sounddevice as sd
    except OSError as e:  # the Linux wheel does not bundle PortAudio
        return None, f"PortAudio library not found ({e}); install it (Debian/Ubuntu: apt install libportaudio2)"
    except ImportError as e:
        return None, f"the sounddevice package is not installed ({e})"
    return sd, None


def default_output_problem(sd) -> Optional[str]:
    """Why there is no usable default output device, or None."""
    try:
        dev = sd.query_devices(kind="output")
    except Exception as e:
        return f"no audio output device ({e})"
    if int(dev.get("max_output_channels", 0)) < 1:
        return f"the default output device '{dev.get('name')}' has no output channels"
    return None


class Player:
    """Plays one file at a time from any position.

    Attributes
    ----------
    available : bool
        Playback possible at all on this machine.
    reason : str
        Why not, when ``available`` is False.
    error : str
        The last playback error (opening the stream failed...), '' if none.
    """

    def __init__(self, device=None):
        self.sd, reason = load_sounddevice()
        if self.sd is not None:
            reason = default_output_problem(self.sd) if device is None else None
        self.reason = reason or ""
        self.available = reason is None
        self.device = device
        self.error = ""
        self.path: Optional[str] = None
        self.channel: Optional[int] = None
        self.sr = 0
        self.n_frames = 0
        self.file_channels = 0
        self.underruns = 0
        self._stream = None
        self._feeder: Optional[threading.Thread] = None
        self._stop_feed = threading.Event()
        self._queue: queue.Queue = queue.Queue(QUEUE_BLOCKS)
        self._paused_at = 0  # file frame shown while not playing
        self._out_ch = 1
        # (generation, start frame) of the current play segment: written by the GUI thread, read by the callback
        self._gen = 0
        self._target = (0, 0)
        # (generation, start frame, frames output, monotonic time) written by the callback, read by the GUI thread;
        # tuples are replaced whole, so each side sees a consistent set
        self._cb_state = (0, 0, 0, 0.0)
        self._ended = False
        self._buf = None
        self._buf_pos = 0

    # -------------------------------------------------------------------------------------------------- control
    def load(self, path, channel: Optional[int] = None) -> None:
        """Prepare ``path`` for playback from its start (GUI thread). Raises RuntimeError/OSError if unreadable."""
        self.stop()
        info = sf.info(str(path))
        self.path, self.channel = str(path), channel
        self.sr, self.n_frames, self.file_channels = int(info.samplerate), int(info.frames), int(info.channels)
        self._paused_at = 0

    @property
    def loaded(self) -> bool:
        return self.path is not None

    @property
    def playing(self) -> bool:
        return self._stream is not None

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.sr if self.sr else 0.0

    def play(self, start_s: Optional[float] = None) -> bool:
        """Start playing at ``start_s`` (default: where it stopped). Returns False and sets :attr:`error` on failure.

        GUI thread."""
        if not self.available or not self.loaded:
            self.error = self.reason or "no file loaded"
            return False
        start = self._paused_at if start_s is None else int(round(max(0.0, start_s) * self.sr))
        if start >= self.n_frames:
            start = 0
        if self._stream is not None and not self._ended:
            self._restart_feed(start)
            return True
        self._close_stream()
        self._out_ch = self._output_channels()
        self._ended = False
        self._restart_feed(start)
        try:
            self._stream = self.sd.OutputStream(
                samplerate=self.sr,
                channels=self._out_ch,
                dtype="float32",
                device=self.device,
                callback=self._callback,
                # 0 (variable size) stalls on ALSA -> PulseAudio
                blocksize=1024,
                latency="low",
            )
            self._stream.start()
        except Exception as e:
            self._stop_feeder()
            self._stream = None
            self.error = f"cannot play {self.path} on the output device ({e})"
            return False
        self.error = ""
        return True

    def pause(self) -> None:
        """Stop sound, remember the position (GUI thread)."""
        if self._stream is not None:
            self._paused_at = self._position_frames()
        self._close_stream()

    def stop(self) -> None:
        """Stop and rewind to the start (GUI thread)."""
        self._close_stream()
        self._paused_at = 0

    def toggle(self) -> bool:
        """Play/pause; returns whether it plays now (GUI thread)."""
        if self.playing:
            self.pause()
            return False
        return self.play()

    def seek(self, t_s: float) -> None:
        """Jump to ``t_s`` seconds, keeping on playing if it was (GUI thread). The stream stays open: only the
        feeder restarts, so a seek is heard at once."""
        t_s = float(np.clip(t_s, 0.0, self.duration_s))
        if self.playing and not self._ended:
            self.play(t_s)
        else:
            self._close_stream()
            self._paused_at = min(int(round(t_s * self.sr)), self.n_frames)

    def position_s(self) -> float:
        """Where the sound heard now is in the file, in seconds (GUI thread, polled by a timer)."""
        if not self.sr:
            return 0.0
        if self._stream is None:
            return self._paused_at / self.sr
        if self._ended and not self._stream_active():  # the last buffers were heard: park the cursor at the end
            self._paused_at = self.n_frames
            self._close_stream()
            return self._paused_at / self.sr
        return self._position_frames() / self.sr

    def close(self) -> None:
        """Stop everything (the app quits)."""
        self._close_stream()

    # -------------------------------------------------------------------------------------------------- internals
    def _restart_feed(self, start: int) -> None:
        """(Re)start the feeder at file frame ``start`` with a new generation number (GUI thread)."""
        self._stop_feeder()
        self._gen += 1
        self._queue = queue.Queue(QUEUE_BLOCKS)
        self._stop_feed = threading.Event()
        self._target = (self._gen, start)  # one tuple: the callback reads it atomically
        self._feeder = threading.Thread(
            target=self._feed,
            args=(start, self._out_ch, self._queue, self._stop_feed),
            name="pesto-player-feeder",
            daemon=True,
        )
        self._feeder.start()

    def _position_frames(self) -> int:
        gen, start = self._target
        cb_gen, cb_start, frames_out, cb_mono = self._cb_state
        if cb_gen != gen:  # the callback has not seen the seek yet
            return start
        latency = 0.0
        try:
            latency = float(self._stream.latency) if self._stream is not None else 0.0
        except Exception:
            pass
        # frames handed to PortAudio, minus what is still in the device buffer, plus the time since that callback
        # (capped at one buffer so a stalled stream does not run ahead)
        since = min(time.monotonic() - cb_mono, 1024 / self.sr)
        pos = cb_start + frames_out - latency * self.sr + since * self.sr
        upper = min(cb_start + frames_out, self.n_frames)
        return int(np.clip(pos, cb_start, max(cb_start, upper)))

    def _stream_active(self) -> bool:
        try:
            return bool(self._stream.active)
        except Exception:
            return False

    def _output_channels(self) -> int:
        if self.channel is not None or self.file_channels == 1:
            return 1
        try:
            dev = self.sd.query_devices(self.device, kind="output")
            return 2 if int(dev.get("max_output_channels", 1)) >= 2 else 1
        except Exception:
            return 1

    def _convert(self, block: np.ndarray, out_ch: int) -> np.ndarray:
        if self.channel is not None:
            mono = block[:, self.channel]
        elif out_ch == 2 and block.shape[1] == 2:
            return block
        else:
            mono = block.mean(axis=1)
        mono = np.nan_to_num(mono, nan=0.0, posinf=0.0, neginf=0.0)
        return np.repeat(mono[:, None], out_ch, axis=1).astype(np.float32)

    def _feed(self, start: int, out_ch: int, q: queue.Queue, stop: threading.Event) -> None:
        """Feeder thread: file blocks into the queue, then ``None`` at the end."""
        try:
            with sf.SoundFile(self.path) as f:
                f.seek(start)
                while not stop.is_set():
                    block = f.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                    item = self._convert(block, out_ch) if len(block) else None
                    while not stop.is_set():
                        try:
                            q.put(item, timeout=0.05)
                            break
                        except queue.Full:
                            continue
                    if item is None:
                        return
        except Exception:  # unreadable part: end the playback there
            try:
                q.put_nowait(None)
            except queue.Full:
                pass

    def _callback(self, outdata, frames, time_info, status) -> None:  # PortAudio's thread
        if status.output_underflow:
            self.underruns += 1
        gen, start = self._target
        cb_gen, cb_start, frames_out, _ = self._cb_state
        buf, pos, q = self._buf, self._buf_pos, self._queue
        if cb_gen != gen:  # a seek: drop what was buffered for the old position
            cb_gen, cb_start, frames_out, buf, pos = gen, start, 0, None, 0
        filled = 0
        while filled < frames:
            if buf is None or pos >= len(buf):
                try:
                    buf, pos = q.get_nowait(), 0
                except queue.Empty:
                    buf = None
                    break
                if buf is None:
                    self._ended = True
                    break
            n = min(frames - filled, len(buf) - pos)
            outdata[filled : filled + n] = buf[pos : pos + n]
            pos += n
            filled += n
        if filled < frames:
            outdata[filled:] = 0
        self._buf, self._buf_pos = buf, pos
        self._cb_state = (cb_gen, cb_start, frames_out + filled, time.monotonic())
        if self._ended:
            raise self.sd.CallbackStop

    def _stop_feeder(self) -> None:
        self._stop_feed.set()
        if self._feeder is not None:
            self._feeder.join(timeout=1.0)
            self._feeder = None

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception:
                pass
        self._stop_feeder()
        self._ended = False
