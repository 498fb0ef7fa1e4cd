"""One step ahead: compute the next item on a thread while the caller uses this one.

The pattern of every batched loop that reads (or preprocesses) and then runs a
network: decoding, resizing and the inference engines release the GIL, so
reading batch ``k + 1`` overlaps running batch ``k``. At most two results are
alive at a time (the one handed out and the one being computed), so memory
stays bounded however many items there are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["prefetched"]

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


def prefetched(
    function: Callable[[_Item], _Result], items: Iterable[_Item]
) -> Iterator[_Result]:
    """``function(item)`` for each item, in order, each computed one step ahead.

    While the caller works on the result for item ``k``, item ``k + 1`` is
    computed on one background thread.

    Parameters
    ----------
    function : callable
        Called once per item, on the background thread.
    items : iterable

    Yields
    ------
    object
        ``function(item)``, in the order of ``items``. An exception raised by
        ``function`` is raised here, when its result would have been yielded.
    """
    items = iter(items)
    with ThreadPoolExecutor(1) as pool:
        try:
            pending = pool.submit(function, next(items))
        except StopIteration:
            return
        try:
            for item in items:
                result = pending.result()
                pending = pool.submit(function, item)
                yield result
            yield pending.result()
        finally:
            pending.cancel()  # a caller that stops early does not wait for it
