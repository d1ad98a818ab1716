"""``samurai app``: a local review tool over the library layer.

``server.create_app`` builds the ASGI application (FastAPI); ``worker.ModelWorker`` runs every
model call in one thread fed by a queue; ``sessions.SessionStore`` keeps each reviewed video's
state and results in a folder written atomically; ``roots.Roots`` confines file access to the
folders named on the command line. See ``docs/app.md``.
"""
