"""The terminal's own screens, served on loopback by the terminal process: the cashier screen (``/``) and the
elder-facing display (``/display``), plain HTML/CSS/JS shipped in the package (no build step, no network at run
time), live over server-sent events.

- :mod:`terminal.web.station` wraps the :class:`terminal.counter.Counter` for concurrent callers (the reader loop
  and HTTP handlers), keeps the open sale and what the screens show, and pushes each change to the pages;
- :mod:`terminal.web.server` is the FastAPI app and the uvicorn thread;
- :mod:`terminal.web.speech` speaks the amount in Mandarin through espeak-ng (optional, per canteen);
- :mod:`terminal.web.messages` is the zh-CN/en catalogue of the pages' words.

Nothing a page or a log line shows names an elder unmasked, carries an ID number (only the 4-character tail the
cashier typed for a manual lookup) or a category: the views are built from the masked name, the quote's amounts and
the plain reason words, never from the quote's tier labels.
"""
