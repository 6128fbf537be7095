"""``classicseg watch``: a fixed-camera surveillance service around the shipped pipelines.

One process per camera runs its pipeline through :func:`classicseg.session.run` with two
sinks: the recorder (events as database rows, H.264 clips with pre/post capture, a
snapshot per event, hooks, retention, disk-full handling) and the live picture. A
supervisor restarts a camera that dies; a small web server shows the cameras live and
serves the events as JSON.

Modules: :mod:`~classicseg.watch.config` (the ``watch.yaml`` schema and its checks),
:mod:`~classicseg.watch.db` (SQLite/PostgreSQL through SQLAlchemy, schema migrations),
:mod:`~classicseg.watch.recorder` (the sinks, retention), :mod:`~classicseg.watch.hooks`,
:mod:`~classicseg.watch.worker` (a camera's process), :mod:`~classicseg.watch.service`
(checks, supervisor, the main loop), :mod:`~classicseg.watch.server` (the page and the API).
"""
