"""The applications: one package each, on the run skeleton of :mod:`lstmkit.tasks.base`.

Importing this package imports no application; ``lstmkit.registry`` imports the one a saved model
needs, and the command line imports each application's ``cli`` module.
"""
