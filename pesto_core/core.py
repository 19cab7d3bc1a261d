"""Python API, named as upstream PESTO's: ``load_model``, ``predict``, ``predict_from_files``; plus ``analyse_file``
and ``iter_file_track`` for applications that want progress, cancellation and partial results."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .audio import AudioReader
from .bundled import DEFAULT_MODEL
from .checkpoint import load_checkpoint
from .decode import reduce_activations
from .device import available_devices, get_threads, select_device, set_threads  # noqa: F401 (public API)
from .errors import ParameterError, PestoError
from .glitch import GlitchFilter
from .model import DEFAULT_CHUNK_FRAMES, PestoModel
from .refine import refine_frames, refine_signal
from .track import PitchTrack
from .units import semitones_to_hz
from .validation import check_reduction, check_viterbi
from .viterbi import PathTracker, track_pitch_rows


def load_model(
    name_or_path: str = DEFAULT_MODEL,
    step_size: float = 10.0,
    sampling_rate: Optional[int] = None,
    *,
    reduction: Optional[str] = None,
    device=None,
    chunk_frames: int = DEFAULT_CHUNK_FRAMES,
    **kwargs,
) -> torch.nn.Module:
    """Load a PESTO model (bundled name or checkpoint path) as an ``nn.Module`` in eval mode.

    The module's forward is ``(x, sr=None, convert_to_freq=False, return_activations=True)`` and returns
    ``pitch, confidence, volume, activations`` (see :class:`pesto_core.model.PestoModel`).
    """
    if kwargs.get("streaming"):
        from .stream import load_streaming_model  # streaming machinery is loaded only when asked for

        return load_streaming_model(
            name_or_path, step_size, sampling_rate, device=device, reduction=reduction, **kwargs
        )
    for key in ("streaming", "mirror", "max_batch_size"):
        kwargs.pop(key, None)
    if kwargs:
        raise ParameterError(f"unknown option(s) for load_model: {', '.join(sorted(kwargs))}")
    if reduction is not None:
        check_reduction(reduction)
    model = PestoModel(load_checkpoint(name_or_path), step_size, reduction=reduction, chunk_frames=chunk_frames)
    model.to(select_device(device))
    if sampling_rate is not None:
        model.set_sample_rate(sampling_rate)
    return model


def predict(
    x,
    sr: int,
    step_size: float = 10.0,
    model_name: str = DEFAULT_MODEL,
    reduction: str = "alwa",
    num_chunks: int = 1,
    convert_to_freq: bool = True,
    inference_mode: bool = True,
    no_grad: bool = True,
    device=None,
    model: Optional[PestoModel] = None,
    refine: bool = False,
    viterbi: bool = False,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pitch of an audio signal.

    Parameters
    ----------
    x : Tensor or ndarray, float, shape (samples,) or (batch, samples)
    sr : int
        Sample rate in Hz (8 kHz .. 192 kHz).
    step_size : float
        Milliseconds between frames; the hop is ``round(step_size * sr / 1000)`` samples.
    model_name : str
        Bundled model name or checkpoint path (ignored when ``model`` is given).
    reduction : {"alwa", "argmax", "mean"}
    num_chunks : int
        Split the work into at least this many pieces (memory is bounded automatically anyway; results are the same).
    convert_to_freq : bool
        Pitch in Hz (True) or MIDI semitones (False).
    refine : bool
        Cent-precise refinement of the decoded pitch (:mod:`pesto_core.refine`); False gives upstream's numbers.
    viterbi : bool
        Decode the pitch as the most likely path through each row's activations (:mod:`pesto_core.viterbi`) instead
        of frame by frame (then refined, with ``refine``); ``reduction`` must be ``alwa``. False: upstream's numbers.

    Returns
    -------
    timesteps : Tensor float64 (frames,)
        Frame times in MILLISECONDS, as upstream, but exact: ``i * hop / sr * 1000``.
    pitch : Tensor float32 ((batch,) frames)
    confidence : Tensor float32 ((batch,) frames)
    activations : Tensor float32 ((batch,) frames, 128 * bps)
    """
    if not torch.is_tensor(x):
        x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    if x.ndim not in (1, 2):
        raise ParameterError(f"audio must have shape (samples,) or (batch, samples), got {tuple(x.shape)}")
    check_reduction(reduction)
    check_viterbi(viterbi, reduction)
    grad_ctx = (
        torch.inference_mode()
        if (no_grad and inference_mode)
        else (torch.no_grad() if no_grad else torch.enable_grad())
    )
    with grad_ctx:
        if model is None:
            model = load_model(model_name, step_size, device=device if device is not None else x.device)
        model.reduction = reduction
        pitch, confidence, _volume, activations = model(
            x.to(model.device),
            sr=sr,
            convert_to_freq=convert_to_freq and not (refine or viterbi),
            num_chunks=num_chunks,
        )
        if viterbi:
            rows = activations.detach().cpu().reshape(-1, *activations.shape[-2:]).numpy()
            pitch = torch.from_numpy(track_pitch_rows(rows)).reshape(pitch.shape).to(pitch.device)
        if refine:
            pitch = _refine_rows(model, x, pitch, sr)
        if convert_to_freq and (refine or viterbi):
            pitch = semitones_to_hz(pitch)
    frames = pitch.shape[-1]
    timesteps = torch.arange(frames, dtype=torch.float64, device=pitch.device) * (model.hop_length * 1000.0 / sr)
    return timesteps, pitch, confidence, activations


def _refine_rows(model: PestoModel, x: torch.Tensor, pitch: torch.Tensor, sr: int) -> torch.Tensor:
    """Refined pitch (semitones) of each row of ``x`` ((samples,) or (batch, samples)); same shape as ``pitch``."""
    rows = x.detach().to("cpu", torch.float32).reshape(-1, x.shape[-1]).numpy()
    p = pitch.detach().cpu().reshape(len(rows), -1).numpy()
    out = np.stack(
        [
            refine_signal(
                r,
                q,
                sr=sr,
                hop_length=model.hop_length,
                kernel_width=model.vqt.kernel_width,
                bins_per_semitone=model.bins_per_semitone,
            )
            for r, q in zip(rows, p)
        ]
    )
    return torch.from_numpy(out).reshape(pitch.shape).to(pitch.device)


def iter_file_track(
    path: Union[str, Path],
    model: PestoModel,
    *,
    num_chunks: int = 1,
    keep_activations: bool = True,
    channel: Optional[int] = None,
    refine: bool = False,
    smooth: bool = False,
    viterbi: bool = False,
) -> Iterator[Tuple[PitchTrack, int]]:
    """Analyse an audio file chunk by chunk, reading it from disk as it goes (bounded memory).

    With ``refine``, the decoded pitch is refined to the cent (:mod:`pesto_core.refine`) and the pieces'
    ``decoding`` is ``"<reduction>+refine"``. With ``smooth``, isolated pitch jumps are removed by the glitch filter
    (:mod:`pesto_core.glitch`, the live mode's, with the same look-ahead; ``+smooth`` in ``decoding``); pieces keep
    their frames in order, the last ones coming with the final piece. With ``viterbi``, the pitch is the most likely
    path through the activations (:mod:`pesto_core.viterbi`, decoded in blocks of fixed frame indices, so the
    numbers do not depend on ``num_chunks``; ``+viterbi`` in ``decoding``, before ``+refine``, which refines the
    path's pitch); the reduction must be ``alwa``.

    Yields
    ------
    (piece, total_frames) : a :class:`PitchTrack` holding the next consecutive frames, and the file's frame count.

    Raises
    ------
    AudioError
        The file cannot be read, is empty, truncated, or holds NaN/Inf samples.
    """
    check_viterbi(viterbi, model.reduction)
    # the glitch filter decodes a glitch again from its activations: it always has them
    pieces = _file_pieces(
        path,
        model,
        num_chunks=num_chunks,
        keep_activations=keep_activations or smooth,
        channel=channel,
        refine=refine,
        viterbi=viterbi,
    )
    if smooth:
        pieces = _deglitched(pieces, keep_activations)
    yield from pieces


def _deglitched(pieces: Iterator[Tuple[PitchTrack, int]], keep_activations: bool) -> Iterator[Tuple[PitchTrack, int]]:
    """The pieces with the glitch filter applied across their boundaries (results independent of the chunking)."""
    glitch = GlitchFilter(1)
    total, last = 0, None

    def piece(track: PitchTrack, fields: dict) -> PitchTrack:
        return replace(
            track,
            time_s=fields["time_s"],
            pitch_semitones=fields["pitch_semitones"][0],
            confidence=fields["confidence"][0],
            volume=fields["volume"][0],
            activations=fields["activations"][0] if keep_activations else None,
            decoding=track.decoding + "+smooth",
        )

    done = 0  # frames pushed so far: the pieces' frame numbers continue across them
    for track, total in pieces:
        last = track
        index = np.arange(done, done + len(track))
        done += len(track)
        fields = glitch.push(
            dict(
                time_s=track.time_s,
                frame_index=index,
                pitch_semitones=track.pitch_semitones[None],
                confidence=track.confidence[None],
                volume=track.volume[None],
                activations=track.activations[None],
            )
        )
        if len(fields["time_s"]):
            yield piece(track, fields), total
    rest = glitch.flush()
    if rest:
        yield piece(last, rest), total


def _chunks(model: PestoModel, reader: AudioReader, num_chunks: int, viterbi: bool) -> Iterator[tuple]:
    """(first frame, pitch (n,) semitones, activations (n, bins) Tensor, confidence, volume Tensors) of consecutive
    frames: decoded frame by frame, or by the Viterbi tracker (which hands frames back when their block is decided;
    they come in pieces of at most ``model.chunk_frames`` frames all the same, as without it: an application's work
    per piece, e.g. the File tab's drawing, stays as small)."""
    if not viterbi:
        for t0, out in model.iter_chunks(reader, reader.n_samples, num_chunks):
            acts = out["activations"]
            yield t0, reduce_activations(acts, model.reduction).cpu().numpy(), acts, out["confidence"], out["volume"]
        return
    tracker, held, done = PathTracker(), [], 0

    def emit(pitch: np.ndarray):
        nonlocal held, done
        n = len(pitch)
        if n == 0:
            return
        acts, conf, vol = (torch.cat([h[k] for h in held]) for k in range(3))
        held = [(acts[n:], conf[n:], vol[n:])]
        step = max(1, model.chunk_frames)
        for a in range(0, n, step):
            b = min(n, a + step)
            yield done + a, pitch[a:b], acts[a:b], conf[a:b], vol[a:b]
        done += n

    for _t0, out in model.iter_chunks(reader, reader.n_samples, num_chunks):
        held.append((out["activations"], out["confidence"], out["volume"]))
        yield from emit(tracker.push(out["activations"].cpu().numpy()))
    yield from emit(tracker.flush())


def _file_pieces(
    path,
    model: PestoModel,
    *,
    num_chunks: int,
    keep_activations: bool,
    channel: Optional[int],
    refine: bool,
    viterbi: bool = False,
) -> Iterator[Tuple[PitchTrack, int]]:
    decoding = model.reduction + ("+viterbi" if viterbi else "") + ("+refine" if refine else "")
    with AudioReader(path, channel) as reader:
        model.set_sample_rate(reader.sr)
        total = model.n_frames(reader.n_samples)
        hop, sr = model.hop_length, reader.sr
        with torch.inference_mode():
            for t0, pitch, acts, confidence, volume in _chunks(model, reader, num_chunks, viterbi):
                n = acts.shape[0]
                if refine:
                    pitch = refine_frames(
                        reader,
                        reader.n_samples,
                        t0,
                        pitch,
                        sr=sr,
                        hop_length=hop,
                        kernel_width=model.vqt.kernel_width,
                        bins_per_semitone=model.bins_per_semitone,
                    )
                yield (
                    PitchTrack(
                        time_s=np.arange(t0, t0 + n, dtype=np.float64) * hop / sr,
                        pitch_semitones=pitch,
                        confidence=confidence.cpu().numpy(),
                        volume=volume.cpu().numpy(),
                        activations=acts.cpu().numpy() if keep_activations else None,
                        sr=sr,
                        hop_length=hop,
                        step_ms=model.step_size,
                        model_name=model.checkpoint_name,
                        reduction=model.reduction,
                        decoding=decoding,
                    ),
                    total,
                )


def analyse_file(
    path: Union[str, Path],
    model: PestoModel,
    *,
    num_chunks: int = 1,
    keep_activations: bool = True,
    channel: Optional[int] = None,
    progress: Optional[Callable[[int, int], None]] = None,
    refine: bool = False,
    smooth: bool = False,
    viterbi: bool = False,
) -> PitchTrack:
    """Whole-file :class:`PitchTrack`; ``progress(frames_done, frames_total)`` is called after each chunk;
    ``refine``, ``smooth`` and ``viterbi`` as :func:`iter_file_track`."""
    parts, done = [], 0
    for piece, total in iter_file_track(
        path,
        model,
        num_chunks=num_chunks,
        keep_activations=keep_activations,
        channel=channel,
        refine=refine,
        smooth=smooth,
        viterbi=viterbi,
    ):
        parts.append(piece)
        done += len(piece)
        if progress is not None:
            progress(done, total)
    return PitchTrack.concatenate(parts)


def predict_from_files(
    audio_files: Union[str, Sequence[str]],
    model_name: str = DEFAULT_MODEL,
    output: Optional[str] = None,
    step_size: float = 10.0,
    reduction: str = "alwa",
    export_format: Sequence[str] = ("csv",),
    no_convert_to_freq: bool = False,
    num_chunks: int = 1,
    gpu: int = -1,
    report: Optional[Callable[[str], None]] = None,
    progress: Optional[Callable[[str, int, int], None]] = None,
    refine: bool = False,
    smooth: bool = False,
    a4_hz: float = 440.0,
    midi_bends: bool = False,
    viterbi: bool = False,
) -> int:
    """Analyse files and write ``<stem>.f0.csv`` / ``.npz`` / ``.png`` next to them (or into ``output``).

    ``a4_hz``, ``midi_bends``: for the ``notes`` / ``mid`` formats (:func:`pesto_core.writers.write_track`).
    ``refine``: cent-precise refinement (:mod:`pesto_core.refine`; the NPZ's ``decoding`` says
    ``"<reduction>+refine"``); off by default, so that upstream's numbers are reproduced. ``smooth``: the glitch
    filter (:func:`iter_file_track`), also off by default; ``viterbi``: the Viterbi decoding (the same), off too.

    A file that fails is reported (``report(message)``, default: a warning) and the others are still processed;
    ``progress(file, frames_done, frames_total)`` follows the work. A bad model or option raises
    :class:`PestoError` before any file is touched, and so do two different files that would write the same result
    (``a/take.wav`` and ``b/take.wav`` into one ``output``; the ``pesto`` command has a rule for those, see
    :mod:`pesto_core.corpus.inputs`).

    Returns
    -------
    int : the number of files that failed.
    """
    import os

    from .writers import check_formats, output_stem, write_track

    if isinstance(audio_files, (str, Path)):
        audio_files = [audio_files]
    formats = check_formats(export_format)
    owners = {}
    for file in audio_files:  # nothing silently overwritten: refuse before any work
        stem = os.path.abspath(output_stem(file, output, no_convert_to_freq))
        if owners.setdefault(stem, os.path.realpath(file)) != os.path.realpath(file):
            raise ParameterError(
                f"{file} and {owners[stem]} would both write {stem}.{formats[0]}: nothing was analysed"
            )
    report = report or (lambda msg: warnings.warn(msg, stacklevel=2))
    check_viterbi(viterbi, reduction)
    model = load_model(model_name, step_size, reduction=reduction, device=select_device(gpu=gpu))
    failures = 0
    for file in audio_files:
        if progress:
            progress(str(file), 0, 1)
        try:
            track = analyse_file(
                file,
                model,
                num_chunks=num_chunks,
                refine=refine,
                smooth=smooth,
                viterbi=viterbi,
                keep_activations=bool({"npz", "png"} & set(formats)),
                progress=(lambda done, total, f=file: progress(str(f), done, total)) if progress else None,
            )
            stem = output_stem(file, output, no_convert_to_freq)
            write_track(
                track, stem, formats, convert_to_freq=not no_convert_to_freq, a4_hz=a4_hz, midi_bends=midi_bends
            )
        except PestoError as e:
            failures += 1
            report(str(e))
        except OSError as e:  # anything the readers/writers did not already word for the user
            failures += 1
            report(f"{file}: {e.strerror or e}")
    return failures
