"""``lstmkit serve``: run directories behind an HTTP service (Starlette on uvicorn).

:func:`lstmkit.serve.app.build_app` makes the ASGI app over one or more run directories (forecast,
anomaly, text classification and language models, translation, action on sensor tables);
:mod:`lstmkit.serve.tasks` says what each task takes and answers; :mod:`lstmkit.serve.cli` is the
command. Nothing is imported here, so ``lstmkit --help`` does not wait for torch or starlette.
"""
