"""samurai: the command line, datasets, evaluation and training on top of the backends."""

__version__ = "0.1.0"
