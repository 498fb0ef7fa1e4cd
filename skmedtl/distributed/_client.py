"""Finding Dask, and the client to talk to a cluster with.

Dask is optional: it is imported here, on first use, so ``import skmedtl`` and
``import skmedtl.distributed`` never need it.
"""

from __future__ import annotations

import contextlib
import logging

__all__ = ["check_client", "connected", "import_distributed", "open_client"]

logger = logging.getLogger(__name__)

INSTALL_HINT = 'pip install "skmedtl[distributed]"'


def import_distributed():
    """The ``distributed`` module, or an ImportError saying how to install it."""
    try:
        import distributed
    except ImportError as e:
        raise ImportError(
            "Extraction on a Dask cluster (skmedtl.distributed, "
            f"CNNFeatures(client=...)) needs dask and distributed: {INSTALL_HINT}."
        ) from e
    return distributed


def check_client(client, *, name: str = "client", allow_none: bool = False) -> None:
    """Raise unless ``client`` is a ``distributed.Client`` or a scheduler address.

    Parameters
    ----------
    client : object
        The value to check.
    name : str, default="client"
        The parameter name used in messages.
    allow_none : bool, default=False
        Whether ``None`` (the current default client) is accepted.
    """
    if client is None and allow_none:
        import_distributed()
        return
    if isinstance(client, str):
        if not client.strip():
            raise ValueError(
                f"{name} is an empty string; give a scheduler address such as "
                "'tcp://10.0.0.5:8786' or a distributed.Client."
            )
        import_distributed()
        return
    distributed = import_distributed()
    if not isinstance(client, distributed.Client):
        raise TypeError(
            f"{name} must be a distributed.Client or a scheduler address string "
            f"such as 'tcp://10.0.0.5:8786'; got {type(client).__name__}. Create "
            "one with distributed.Client(distributed.LocalCluster()) or "
            "Client('tcp://host:8786')."
        )


@contextlib.contextmanager
def connected(client):
    """A running client for ``client``: a Client, an address, or ``None``.

    An address reuses the process's default client when it talks to that
    scheduler; otherwise a client is connected for the duration of the block
    (and closed after), so estimators that hold an address stay picklable.
    ``None`` means the default client (the last one created in this process).
    """
    distributed = import_distributed()
    if client is None:
        try:
            client = distributed.default_client()
        except ValueError as e:
            raise ValueError(
                "No Dask client: pass client= (a distributed.Client or a scheduler "
                "address), or create one first, e.g. "
                "distributed.Client(distributed.LocalCluster())."
            ) from e
    if not isinstance(client, str):
        if client.status in ("closing", "closed"):
            raise ValueError(
                f"The Dask client {client!r} is closed; create a new one or pass a "
                "scheduler address."
            )
        yield client
        return
    own, owned = open_client(client)
    if not owned:
        yield own
        return
    try:
        yield own
    finally:
        own.close()


def open_client(address: str, *, name: str = "client"):
    """A running client for a scheduler ``address``, and whether it is new.

    The process's default client is reused when it talks to that scheduler
    (``owned`` is then ``False``); otherwise a new client is connected, which
    the caller closes.
    """
    distributed = import_distributed()
    try:
        default = distributed.default_client()
    except ValueError:  # no client in this process yet
        default = None
    if (
        default is not None
        and default.status == "running"
        and _same_address(default.scheduler.address, address)
    ):
        return default, False
    try:
        own = distributed.Client(address, set_as_default=False)
    except OSError as e:
        raise OSError(
            f"Could not connect to the Dask scheduler at {name}={address!r}: {e}. "
            "Check the address (e.g. 'tcp://10.0.0.5:8786') and that the scheduler "
            "is running."
        ) from e
    logger.info("Connected to the Dask scheduler at %s", address)
    return own, True


def _same_address(a: str, b: str) -> bool:
    def norm(address: str) -> str:
        return address if "://" in address else f"tcp://{address}"

    return norm(a) == norm(b)
