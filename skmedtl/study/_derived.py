"""Cells derived from the study's own: learning-curve subsamples, nested folds.

A derived cell reruns a study cell (its approach, backbone and seed) on other
images: a subsample of the training images (:mod:`._curves`) or an outer fold
(:mod:`._nested`). It reuses the study's machinery: the base cell's task (its
embeddings through the cache, one extraction in memory at a time), the
executor, the log. Only what the images are, and what the log records, differ;
they are the caller's ``derive`` and ``record``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

from ._cells import Cell, CellContext, Embeddings, run_cell
from ._run import CellTask, check_executor, failure_record, run_cells

__all__ = ["run_derived"]

logger = logging.getLogger(__name__)


def run_derived(
    run,
    ctx: CellContext,
    items: Sequence,
    *,
    what: str,
    kinds: tuple[str, ...],
    base: Callable[[object], Cell],
    derive: Callable[[object, CellContext, Embeddings | None], tuple],
    record: Callable[[object, str, dict], dict],
    label: Callable[[object], str],
) -> list[dict]:
    """Run the unfinished derived cells among ``items``; returns their failures.

    Parameters
    ----------
    run : StudyRun
        The study's run (its embeddings, store, executor and run id).
    ctx : CellContext
        The study's context.
    items : sequence
        Derived cells, each with a ``cell`` (its own key and settings).
    what : str
        Their name in the log messages (``"Learning curves"``).
    kinds : tuple of str
        Log record types whose keys count as finished.
    base : callable
        ``base(item)``: the study cell whose task (embeddings) the item reuses.
    derive : callable
        ``derive(item, ctx, embeddings)``: the item's context and embeddings
        from the base cell's shipped ones.
    record : callable
        ``record(item, run_id, result)``: the log record of a finished item.
    label : callable
        ``label(item)``: how logs and failures name it.
    """
    study, store = run.study, run.study._store
    done = set().union(*(store.latest(kind) for kind in kinds))
    todo = [item for item in items if item.cell.key not in done]
    by_key = {item.cell.key: item for item in todo}
    failures: list[dict] = []
    if not todo:
        return failures
    logger.info("%s: %d cells to run.", what, len(todo))

    def finished(task: CellTask, result: dict) -> None:
        result.pop("_model", None)  # derived models are not kept
        store.append(record(by_key[task.key], run.run_id, result))

    def failed(task: CellTask, error: BaseException) -> None:
        entry = failure_record(task, error, run.run_id)
        failures.append({"cell": entry["cell"], "error": entry["error"]})
        store.append(entry)

    batches = _batches(run, ctx, todo, base, derive, label)
    run_cells(
        batches,
        check_executor(study.executor),
        on_error=study.on_error,
        on_result=finished,
        on_failure=failed,
    )
    return failures


def _batches(run, ctx, todo, base, derive, label) -> Iterator[list[CellTask]]:
    """One :class:`~._run.CellTask` per item, on its derived images."""
    embeddings: dict = {}
    current = None
    for item in todo:
        key = run._embedding_key(ctx, base(item))
        if key != current:
            embeddings.clear()  # one extraction in memory at a time
            current = key
        task = run._task(ctx, base(item), embeddings)
        if task.fn is not run_cell:  # the extraction failed
            yield [CellTask(item.cell.key, label(item), task.fn, task.args)]
            continue
        shipped, _, emb = task.args
        sub_ctx, sub_emb = derive(item, shipped, emb)
        args = (sub_ctx, item.cell, sub_emb)
        yield [CellTask(item.cell.key, label(item), run_cell, args, task.resources)]
