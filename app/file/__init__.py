"""The File tab: audio file -> document -> jobs (analysis worker, activations store, exports) -> view, waveform and
playback. Never imports :mod:`app.live`."""
