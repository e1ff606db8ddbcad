"""Studies: experiments that train many models to show something (``lstmkit study <study>``).

A study is not an :class:`~lstmkit.tasks.base.Application` (it has no single model to save, load
or predict with); it stands on the same shared pieces: its output directory follows
:func:`lstmkit.files.check_run_dir`, every file is written through :mod:`lstmkit.files`, and its
command is added in :mod:`lstmkit.tasks.studies.cli` with the helpers of :mod:`lstmkit.cli.common`.

* :mod:`lstmkit.tasks.studies.long_memory`: vanilla RNN against LSTM on the long-time-lag problems
  of Hochreiter & Schmidhuber (1997), with gradient flow (``lstmkit study long-memory``).

Importing this package imports no study (the command line imports only :mod:`.cli`).
"""
