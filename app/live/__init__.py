"""The Live tab: microphone -> capture (ring buffer) -> worker (streaming engine) -> session (history, tuner,
recording) -> view. Never imports :mod:`app.file`."""
