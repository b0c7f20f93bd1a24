"""User-facing errors: the CLI prints them as one line and exits with code 2."""


class GankitError(Exception):
    """Bad input from the user (config, data, paths). Message is one line naming what is wrong."""


class ConfigError(GankitError):
    pass


class DataError(GankitError):
    pass


class CheckpointError(GankitError):
    pass
