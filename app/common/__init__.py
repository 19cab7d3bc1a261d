"""What both tabs share: the plots and their note axis, the heatmap's picture, settings, thread helpers, Qt
work-arounds and the PNG renderer. Imports neither :mod:`app.live` nor :mod:`app.file`."""
