"""One run of a prepared study: its cells as tasks, results logged as they come.

:class:`StudyRun` turns the unfinished cells into :class:`~._run.CellTask` s
(frozen embeddings extracted once per batch, see :mod:`._cost`), runs them
through the study's executor, appends each result (or failure) to the log,
saves each finished cell's model, and hands over to the study's outputs.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ._cells import Cell, CellContext, Embeddings, run_cell
from ._cost import embedding_settings, extract_embeddings
from ._measure import CellTimes, Stopwatch, StudyTimes, describe_device
from ._records import settings_key
from ._results import StudyResults
from ._run import (
    CellTask,
    check_executor,
    failure_record,
    now,
    raise_error,
    run_cells,
)
from ._save import cell_metadata, cell_model, describe_inputs, save_cell_model

__all__ = ["StudyRun"]

logger = logging.getLogger(__name__)


class StudyRun:
    """One run of a prepared :class:`~skmedtl.study.TransferStudy` in ``out``."""

    def __init__(self, study, out: Path, times: StudyTimes | None = None):
        self.study = study
        self.out = out
        self.times = StudyTimes() if times is None else times
        self._extraction_s: dict[str, float] = {}  # by embedding key, until recorded
        self.run_id = (
            datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-")
            + uuid.uuid4().hex[:6]
        )
        self._inputs = None

    @property
    def _store(self):
        return self.study._store

    def run(self) -> StudyResults:
        """Run the unfinished cells, then write the outputs."""
        study, out, run_id = self.study, self.out, self.run_id
        planned = study.cells_
        done = self._store.latest("cell")
        todo = [c for c in planned if c.key not in done]
        n_skipped = len(planned) - len(todo)
        logger.info(
            "Study in %s: %d cells, %d finished before, %d to run.",
            out,
            len(study.cells_),
            n_skipped,
            len(todo),
        )
        ctx, self.shipped = _contexts(self._context(out, run_id), study.executor, out)
        self.ctx = ctx
        failures = []
        cells = {c.key: c for c in todo}
        embeddings: dict[str, Embeddings] = {}
        bar = tqdm(
            total=len(study.cells_),
            initial=n_skipped,
            desc="study",
            unit="cell",
            disable=study.verbose <= 0,
        )

        def finished(task: CellTask, result: dict) -> None:
            self._record(out, cells[task.key], result, embeddings, run_id)
            bar.update()

        def failed(task: CellTask, error: BaseException) -> None:
            record = failure_record(task, error, run_id)
            failures.append({"cell": record["cell"], "error": record["error"]})
            self._store.append(record)
            bar.update()

        with bar, self.times.stage("cells_s"):
            run_cells(
                self._batches(ctx, todo, embeddings),
                check_executor(study.executor),
                on_error=study.on_error,
                on_result=finished,
                on_failure=failed,
            )
        if study.curves_ is not None:  # learning curves: after the study's cells
            from ._curves import run_curves

            run_curves(self, ctx, study.curves_)
        if study.nested_ is not None:  # nested cross-validation: its folds
            from ._nested import run_nested

            run_nested(self, ctx, study.nested_)
        return study._write(
            out,
            n_run=len(todo) - len(failures),
            n_skipped=n_skipped,
            failures=failures,
            refit=lambda cell: self._refit(out, ctx, cell),
            times=self.times,
            run_id=run_id,
        )

    def _context(self, out: Path, run_id: str) -> CellContext:
        study = self.study
        data = study.data_
        return CellContext(
            data=data,
            dev=data.indices("train", "val"),
            test=data.indices("test"),
            profile=study.profile_,
            weights=study.weights,
            metric=study.metric,
            batch_size=int(study.batch_size),
            device=study.device,
            device_name=describe_device(study.device_),
            cache_path=os.fspath(study.cache_path or out / "embeddings.h5"),
            n_jobs=1 if study.n_jobs is None else study.n_jobs,
            verbose=int(study.verbose),
            run_id=run_id,
            val_mask=study.val_mask_,
            calibrate=study.calibrate,
            threshold_rule=study.threshold_rule_,
            threshold_target=study.threshold_target_,
            task=study.task,
        )

    def _batches(self, ctx: CellContext, todo: list[Cell], embeddings: dict):
        """The cells as tasks, one batch per shared extraction.

        Consecutive cells that share frozen embeddings (one backbone, and one
        seed with random weights) form a batch; ``embeddings`` holds the
        current batch's extraction, by its key, until the batch is recorded.
        """
        batch, current = [], None
        for cell in todo:
            key = self._embedding_key(ctx, cell)
            if batch and key != current:
                yield batch
                batch = []
                embeddings.clear()  # one extraction in memory at a time
            current = key
            batch.append(self._task(ctx, cell, embeddings))
        if batch:
            yield batch

    def _task(self, ctx: CellContext, cell: Cell, embeddings: dict) -> CellTask:
        """One cell as a task (its frozen embeddings extracted here, once)."""
        study = self.study
        resources = cell_resources(cell, study.device)
        emb = None
        if cell.approach.frozen:
            key = self._embedding_key(ctx, cell)
            try:
                if key not in embeddings:
                    with Stopwatch() as clock:
                        embeddings[key] = extract_embeddings(
                            ctx,
                            cell,
                            self._store,
                            study.fingerprint_,
                            client=_extraction_client(study.executor),
                        )
                    self._extraction_s[key] = clock.seconds
            except Exception as e:  # noqa: BLE001 - the cell fails with it
                return CellTask(cell.key, cell.id, raise_error, (e,), resources)
            # The cells need the rows, not the extractor (its model is for the
            # saved hybrid models, here): one copy without it, shared by the
            # batch's cells, so a cluster is sent the rows once, not the model.
            if (key, "rows") not in embeddings:
                embeddings[key, "rows"] = dataclasses.replace(
                    embeddings[key], features=None
                )
            emb = embeddings[key, "rows"]
        shipped = getattr(self, "shipped", None) or ctx  # what the cells get
        return CellTask(cell.key, cell.id, run_cell, (shipped, cell, emb), resources)

    def _embedding_key(self, ctx: CellContext, cell: Cell) -> str:
        study = self.study
        return settings_key(embedding_settings(ctx, cell, study.fingerprint_))

    def _record(
        self, out: Path, cell: Cell, result: dict, embeddings: dict, run_id: str
    ) -> None:
        """Log a finished cell (its first of a batch carries the extraction time);
        save its model."""
        study = self.study
        times = CellTimes.from_dict(result.get("timings"))
        if cell.approach.frozen:
            key = self._embedding_key(self.ctx, cell)
            times.extraction_s = self._extraction_s.pop(key, None)
        record = {
            "type": "cell",
            "key": cell.key,
            "cell_id": cell.id,
            "backbone": cell.backbone,
            "approach": cell.approach.name,
            "category": cell.approach.category,
            "seed": cell.seed,
            "settings": cell.settings,
            "run_id": run_id,
            "finished": now(),
            **result,
            "timings": times.to_dict(),
        }
        model = record.pop("_model", None)
        self._store.append(record)
        if study.save_ and model is not None:
            emb = None
            if cell.approach.frozen:
                emb = embeddings[self._embedding_key(self.ctx, cell)]
            with self.times.stage("cell_save_s"):
                self._save_cell(out, cell, model, emb, record)
        logger.info(
            "%s: validation %s %.3f; test AUC %.3f, ACC %.3f, %.1f s",
            cell.id,
            study.metric,
            result["validation"]["score"],
            result["metrics"]["auc"][0],
            result["metrics"]["accuracy"][0],
            result["wall_time_s"],
        )

    # -- saved models -----------------------------------------------------------------
    def _save_cell(self, out: Path, cell: Cell, model, emb, record: dict) -> None:
        """Save a finished cell's fitted model to ``out/models/<key>/``."""
        study = self.study
        try:
            study_model = cell_model(cell, model, emb, record, study.data_)
            if getattr(self, "_inputs", None) is None:
                dev = study.data_.indices("train", "val")
                self._inputs = describe_inputs(
                    study.data_.images, dev[~study.val_mask_]
                )
            meta = cell_metadata(cell, record, study_model, self._inputs)
            save_cell_model(out, cell, study_model, meta)
        except Exception as e:
            if study.on_error == "raise":
                raise
            logger.error("Cell %s: its model could not be saved: %s", cell.id, e)

    def _refit(self, out: Path, ctx: CellContext, cell: Cell) -> str:
        """Fit a finished cell again (its model was not saved) and save it."""
        study = self.study
        embeddings: dict = {}
        task = self._task(ctx, cell, embeddings)
        [(_, result)] = check_executor(study.executor).run([task])
        if isinstance(result, BaseException):
            raise result
        model = result.pop("_model")
        recorded = self._store.latest("cell")[cell.key]
        emb = (
            embeddings.get(self._embedding_key(ctx, cell))
            if cell.approach.frozen
            else None
        )
        self._save_cell(out, cell, model, emb, {**recorded, **result})
        diff = float(
            np.max(
                np.abs(
                    np.asarray(result["test_proba"])
                    - np.asarray(recorded["test_proba"])
                )
            )
        )
        return (
            f"fitted again by run {ctx.run_id} (the cell finished in a run that did "
            "not save models); the report's numbers are those of the first fit. "
            f"Largest difference in test probabilities: {diff:.3g}."
        )


def cell_resources(cell: Cell, device: str) -> dict:
    """What a cell asks of a cluster worker: a GPU for cells that train.

    Asked even when this process has none: a cluster's workers may (an
    executor that cannot place the request runs the cell anyway).
    """
    if not cell.approach.frozen and device != "cpu":
        return {"GPU": 1}
    return {}


def _extraction_client(executor):
    """The Dask cluster of a cluster executor (its cells' embeddings are
    extracted there, sharded); ``None``: extract in this process."""
    from ..distributed import DaskCellExecutor  # needs no Dask to import

    return executor.client if isinstance(executor, DaskCellExecutor) else None


def _contexts(ctx: CellContext, executor, out: Path):
    """The run's context here, and the one its cells get: ``ctx`` for both,
    unless the cells run on a cluster whose workers share no file system with
    this process. Then image files are decoded here once (and travel to the
    workers as task data, for the extraction and the cells), and the cells
    open no cache file (the embeddings are the same without it)."""
    from ..distributed import DaskCellExecutor

    if not isinstance(executor, DaskCellExecutor) or executor.shares_files(out):
        return ctx, ctx
    from ..distributed._storage import in_memory

    data = dataclasses.replace(ctx.data, images=in_memory(ctx.data.images))
    ctx = dataclasses.replace(ctx, data=data)
    return ctx, dataclasses.replace(ctx, cache_path=None)
