"""The project's exception root: every error finsent raises on purpose derives from it."""


class FinsentError(Exception):
    """Base class for errors with a message meant for the user."""


class ConfigError(FinsentError):
    """A setting is missing or malformed."""


class BrokerError(FinsentError):
    """The Kafka broker cannot be started, reached or stopped."""


class ModelNotFoundError(FinsentError):
    """No built model exists where one was expected."""


class StoreError(FinsentError):
    """ClickHouse refused a statement or cannot be reached."""


class FetchError(FinsentError):
    """A live source's server answered with an error or could not be reached."""
