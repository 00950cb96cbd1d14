"""The runner: walks the graph, resolves cache hits, hands the rest to an executor, records results.

Orchestration only: what a step does is `run.task.Task`, how bytes are stored is `artifacts`, how
facts are stored is `metadata`. A step whose upstream failed is recorded `skipped`; independent
branches keep running so the next run can reuse as much as possible.
"""

from __future__ import annotations

import collections
import dataclasses
import graphlib
import inspect
import re
import reprlib
import sys
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from conveyor.artifacts.values import load_value, save_value
from conveyor.config import Settings
from conveyor.core.context import StepContext, step_context
from conveyor.core.fingerprint import cache_key, code_fingerprint
from conveyor.core.graph import Collection, Graph, Input, Literal, Node, Ref
from conveyor.core.hashing import digest, hash_value
from conveyor.exceptions import ConveyorError, GraphError, ParameterError, RunStateError
from conveyor.metadata.records import Reusable, RunRecord, StepFacts, StepRunRecord
from conveyor.run.capture import live_log_path, routed_output
from conveyor.run.environment import (
    CodeState,
    capture_environment,
    git_state,
    known_git_state,
)
from conveyor.run.events import RunObserver
from conveyor.run.executors import make_executor
from conveyor.run.executors.base import Executor
from conveyor.run.isolation import qualname
from conveyor.run.recording import Recorder
from conveyor.run.task import Stored, Task, TaskResult
from conveyor.run.views import Run
from conveyor.workspace import Workspace, load_recorded, open_workspace

__all__ = ["RunOptions", "Runner", "run_pipeline"]

_OutputKey = tuple[str, str]  # (node, output)


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How to run a graph.

    Attributes:
        cache: serve unchanged steps from the cache.
        trust: allow loading unsafe (pickled) artifacts.
        select: the nodes to run (None: all); their upstream nodes must come from the cache.
        reuse: node → outputs of a step that succeeded in the run being resumed, with its key.
        resumed_from: the id of the run this one continues.
        pipeline_ref: `file.py:name`, recorded so the run can be resumed or reproduced.
    """

    cache: bool = True
    trust: bool = False
    select: frozenset[str] | None = None
    reuse: Mapping[str, Reusable] = dataclasses.field(default_factory=dict)
    resumed_from: str | None = None
    pipeline_ref: str | None = None


def run_pipeline(
    pipeline: Any,
    params: dict[str, Any],
    *,
    cache: bool = True,
    trust: bool | None = None,
    settings: Settings | None = None,
    observer: RunObserver | None = None,
    executor: Executor | str | None = None,
    from_step: str | None = None,
    to_step: str | None = None,
    resume: str | None = None,
    run_id: str | None = None,
) -> Run:
    """Trace `pipeline` with `params` (raising before anything runs if invalid), then run it.

    Args:
        from_step: run this step and everything downstream of it; upstream comes from the cache.
        to_step: run this step and what it needs, nothing downstream.
        resume: the id of a failed or interrupted run to continue (its completed steps are reused).
        run_id: the new run's id (32 hex digits), chosen by whoever launches it so they can find
            it again (`conveyor watch` records it before starting the run); one that exists is
            refused.
    """
    graph = pipeline.trace(**params)
    select = _selection(graph, from_step, to_step)  # like tracing, fails before anything is stored
    if run_id is not None and not _RUN_ID.fullmatch(run_id):
        raise ParameterError(f"run id {run_id!r}: expected 32 hex digits (0-9, a-f)")
    workspace = open_workspace(settings)
    if run_id is not None and workspace.metadata.has_run(run_id):
        raise RunStateError(f"a run with id {run_id} exists already; choose another id")
    try:
        source: Path | None = Path(inspect.getsourcefile(pipeline.fn) or "")
    except TypeError:
        source = None
    options = RunOptions(
        cache=cache,
        trust=workspace.settings.trust_pickle if trust is None else trust,
        select=select,
        reuse=workspace.metadata.reusable_steps(resume) if resume else {},
        resumed_from=resume,
        pipeline_ref=f"{source}:{_attribute_name(pipeline)}" if source else None,
    )
    runner = Runner(
        graph,
        workspace,
        options,
        observer=observer or RunObserver(),
        executor=make_executor(executor),
        run_id=run_id,
    )
    return runner.run(source)


def _selection(graph: Graph, from_step: str | None, to_step: str | None) -> frozenset[str] | None:
    if from_step is None and to_step is None:
        return None
    for flag, name in (("--from", from_step), ("--to", to_step)):
        if name is not None and name not in graph.nodes:
            raise GraphError(f"{flag} {name!r}: no such step; steps are {list(graph.nodes)}")
    selected = set(graph.nodes)
    if from_step is not None:
        selected &= {from_step} | graph.descendants(from_step)
    if to_step is not None:
        selected &= {to_step} | graph.ancestors(to_step)
    if not selected:
        raise GraphError(f"no step lies between --from {from_step!r} and --to {to_step!r}")
    return frozenset(selected)


def _attribute_name(pipeline: Any) -> str:
    module = sys.modules.get(getattr(pipeline, "__module__", "") or "")
    for name, value in vars(module).items() if module else ():
        if value is pipeline:
            return name
    return pipeline.name


class Runner:
    """Runs one graph once. Create a new Runner per run."""

    def __init__(
        self,
        graph: Graph,
        workspace: Workspace,
        options: RunOptions,
        *,
        observer: RunObserver,
        executor: Executor,
        run_id: str | None = None,
    ) -> None:
        self.graph = graph
        self.ws = workspace
        self.options = options
        self.cache = options.cache
        self.trust = options.trust
        self.observer = observer
        self.executor = executor
        self.run_id = run_id or uuid.uuid4().hex
        self._mat_digest = workspace.materializers.digest()
        self._position = {name: i for i, name in enumerate(graph.nodes)}
        self._stored: dict[_OutputKey, Stored] = {}
        self._values: dict[_OutputKey, Any] = {}
        self._status: dict[str, str] = {}
        self._records: dict[str, StepRunRecord] = {}
        self._keys: dict[str, str] = {}
        self._fresh: set[str] = set()  # artifacts whose bytes this run wrote for the first time
        self._consumers = collections.Counter(
            up for node in graph.nodes.values() for up in node.upstream
        )
        self._kept = {(ref.node, ref.output) for ref in graph.outputs.values()}
        self._items: dict[str, Node] = {}  # the nodes of map items, "name[i]"
        self._item_of: dict[str, str] = {}  # map item → its map node
        self._maps: dict[str, _MapState] = {}
        self._item_index: dict[str, int] = {}
        self._busy: dict[str, float] = {}  # node → when it was handed to the executor
        self._included = set(graph.nodes)
        if options.select is not None:  # the selection and what it needs from the cache
            self._included = set(options.select).union(
                *(graph.ancestors(name) for name in options.select)
            )

    # -- the run -----------------------------------------------------------------------------------

    def run(self, source: Path | None) -> Run:
        files = _step_files(self.graph)
        known = known_git_state(source, files)
        git: Future[CodeState] = Future()
        if known is None:  # a subprocess: beside the run, not before it
            git = _GIT_POOL.submit(git_state, source, files)
        else:
            git.set_result(known)
        env, environment, packages = capture_environment(source)
        record = RunRecord(
            id=self.run_id,
            pipeline=self.graph.pipeline,
            pipeline_version=self.graph.version(),
            status="running",
            params=_json_params(self.graph.params),
            cache=self.cache,
            started_at=time.time(),
            source_file=str(source) if source else None,
            pipeline_ref=self.options.pipeline_ref,
            resumed_from=self.options.resumed_from,
            heartbeat_at=time.time(),
            environment_id=environment,
            **env,
        )
        meta = self.ws.metadata
        meta.start_run(record, packages, graph=lambda: _graph_rows(self.graph))
        self.observer.run_started(record, self.graph)
        try:
            with (
                routed_output(),
                Recorder(meta, heartbeat_run=self.run_id, busy=self._busy) as self._recorder,
            ):
                self._execute()
                pending = self._recorder.drain()  # written with the run's end, below
        except BaseException:
            meta.finish_run(self.run_id, "interrupted", time.time(), "interrupted", code=_code(git))
            raise
        finally:
            self.executor.shutdown()
        failed = [r for r in self._records.values() if r.status in ("failed", "timed_out")]
        error = None
        if failed:
            first = min(failed, key=lambda r: r.position)
            line = (first.error_message or "").strip().splitlines()[:1]
            error = f"step {first.name!r} failed: {first.error_type}: {line[0] if line else ''}"
        ended = time.time()
        status = "failed" if failed else "succeeded"
        outputs = {
            name: self._stored[(ref.node, ref.output)].artifact_id
            for name, ref in self.graph.outputs.items()
            if (ref.node, ref.output) in self._stored
        }
        commit, dirty = code = _code(git)
        meta.finish_run(self.run_id, status, ended, error, outputs, code=code, steps=pending)
        final = RunRecord(
            **{
                **record.__dict__,
                "status": status,
                "ended_at": ended,
                "duration_s": ended - record.started_at,
                "error": error,
                "outputs": outputs,
                "git_commit": commit,
                "git_dirty": dirty,
            }
        )
        self.observer.run_finished(final)
        in_memory = {
            self._stored[key].artifact_id: value
            for key, value in self._values.items()
            if key in self._stored
        }
        steps = tuple(sorted(self._records.values(), key=lambda r: self._order(r.name)))
        return Run(final, steps, outputs, _loader(self.ws, self.trust, in_memory))

    def _execute(self) -> None:
        sorter = graphlib.TopologicalSorter(
            {name: self.graph.nodes[name].upstream for name in self._included}
        )
        sorter.prepare()
        ready: collections.deque[str] = collections.deque()
        pending: dict[Future[TaskResult], str] = {}

        def completed(name: str) -> None:
            """`name` (a node, or one item of a map) has its outcome recorded."""
            parent = self._item_of.get(name)
            if parent is None:
                sorter.done(name)
                return
            state = self._maps[parent]
            state.remaining -= 1
            if state.remaining == 0:
                self._finish_map(self.graph.nodes[parent])
                sorter.done(parent)

        while sorter.is_active():
            ready.extend(sorted(sorter.get_ready(), key=self._position.__getitem__))
            while ready and self.executor.can_submit(self._node(ready[0]).step.resources):
                name = ready.popleft()
                node = self._node(name)
                if node.map_over is not None and name not in self._item_of:
                    items = self._start_map(node)
                    if items is None:
                        sorter.done(name)
                    elif not items:
                        self._finish_map(node)
                        sorter.done(name)
                    else:
                        ready.extendleft(reversed(items))
                    continue
                future = self._start(node)
                if future is None:
                    completed(name)
                elif future.done():  # ran in this thread: record it before starting the next
                    self._finish(node, future.result())
                    completed(name)
                else:
                    pending[future] = name
            if not pending:
                continue
            if not all(future.done() for future in pending):
                self._recorder.flush()  # about to block on running steps: nothing waits unwritten
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: self._order(pending[f])):
                name = pending.pop(future)
                self._finish(self._node(name), future.result())
                completed(name)

    def _order(self, name: str) -> tuple[int, int]:
        """Graph order; the items of a map in item order, after their map node's inputs."""
        index = self._item_index.get(name, -1)
        return (self._position[name], index)

    def _node(self, name: str) -> Node:
        return self._items.get(name) or self.graph.nodes[name]

    # -- map: one task per item of a list known at run time -----------------------------------

    def _start_map(self, node: Node) -> list[str] | None:
        """Expand `node` into one node per item; None when it cannot run (recorded as such)."""
        blocked = sorted(up for up in node.upstream if self._status.get(up) != "succeeded")
        if blocked:
            self._record(
                node, "skipped", error=("Skipped", f"upstream step {blocked[0]!r} did not succeed")
            )
            return None
        source = dict(node.inputs)[node.map_over]
        try:
            items = self._resolved(source)
        except ConveyorError as err:
            self._record(node, "failed", error=("ConveyorError", f"map input: {err}"))
            return None
        if not isinstance(items, (list, tuple)):
            message = f"map() needs a list to map over, got {type(items).__name__}"
            self._record(node, "failed", error=("ConveyorError", message))
            return None
        names = []
        for index, item in enumerate(items):
            name = f"{node.name}[{index}]"
            inputs = tuple(
                (arg, Literal(item) if arg == node.map_over else src) for arg, src in node.inputs
            )
            self._items[name] = Node(name=name, step=node.step, inputs=inputs)
            self._item_of[name] = node.name
            self._position[name] = self._position[node.name]
            self._item_index[name] = index
            names.append(name)
        self._maps[node.name] = _MapState(names, len(names), time.time())
        return names

    def _resolved(self, source: Input) -> Any:
        value = self._value_of(source)
        if isinstance(value, Stored):
            return load_value(
                value.artifact_id,
                value.materializer,
                value.version,
                self.ws.artifacts,
                self.ws.materializers,
                trust=self.trust,
            )
        return value

    def _finish_map(self, node: Node) -> None:
        """Gather the items' outputs, in order, into the map node's output list."""
        state = self._maps.get(node.name) or _MapState([], 0, time.time())
        output = node.step.outputs[0]
        failed = [n for n in state.items if self._status.get(n) != "succeeded"]
        result = TaskResult(status="failed", started_at=state.started_at, ended_at=time.time())
        if failed:
            first = self._records[failed[0]]
            result.error_type = "ConveyorError"
            result.error_message = (
                f"{len(failed)} of {len(state.items)} items failed; first {failed[0]}: "
                f"{first.error_type}: {(first.error_message or '').strip()[:300]}"
            )
        else:
            try:
                values = [self._resolved(Ref(name, output)) for name in state.items]
                result.outputs = {output: values}
                result.saved = {
                    output: save_value(values, self.ws.artifacts, self.ws.materializers)
                }
                result.status = "succeeded"
            except ConveyorError as err:
                result.error_type, result.error_message = "ConveyorError", f"gathering: {err}"
        for name in state.items:  # the gathered list holds them now
            self._values.pop((name, output), None)
        result.ended_at = time.time()
        # every item served from the cache: so is the list, as far as the user can tell
        cached = bool(state.items) and all(self._records[n].cached for n in state.items)
        self._finish(node, result, cached=cached and result.status == "succeeded")

    # -- one node --------------------------------------------------------------------------------

    def _start(self, node: Node) -> Future[TaskResult] | None:
        """Skip, serve from cache, or submit `node`. Returns a future only when submitted."""
        blocked = sorted(up for up in node.upstream if self._status.get(up) != "succeeded")
        if blocked:
            self._record(
                node, "skipped", error=("Skipped", f"upstream step {blocked[0]!r} did not succeed")
            )
            return None
        key_inputs = {arg: self._key_of(src) for arg, src in node.inputs}
        if node.step.cache_key_fn is not None:
            ctx = StepContext(
                self.run_id, node.name, settings=self.ws.settings, sync=self._recorder.flush
            )
            try:
                with step_context(ctx):
                    token = node.step.cache_key_fn(**self._literals(node))
                key_inputs[_KEY_FN] = hash_value(token)
            except Exception as err:  # e.g. the file it fingerprints is missing: the step fails
                self._record(node, "failed", error=(qualname(err), str(err)))
                return None
        key = self._keys[node.name] = cache_key(
            _step_fingerprint(node), key_inputs, self._mat_digest
        )
        reuse = self.options.reuse.get(node.name)
        if (
            reuse is not None
            and reuse.cache_key == key
            and self._serve(node, reuse.step_run_id, reuse.outputs)
        ):
            return None
        selected = self.options.select is None or node.name in self.options.select
        use_cache = (self.cache and node.step.cache) or not selected
        # An input whose bytes this run wrote first is in no cache entry yet: skip the query.
        fresh = any(
            self._stored[(r.node, r.output)].artifact_id in self._fresh for r in node.refs()
        )
        if use_cache and not fresh and self._serve_from_cache(node, key):
            return None
        if not selected:
            self._record(
                node,
                "failed",
                error=(
                    "ConveyorError",
                    "no cached result for this upstream step of the selection; run it first "
                    "(without --from) or widen the selection",
                ),
            )
            return None
        # another process cannot ask for a flush, and costs more than one anyway
        self._recorder.before_step(
            flush=node.step.timeout is not None or not self.executor.in_process
        )
        self.observer.step_started(node.name)
        self._busy[node.name] = time.monotonic()
        task = Task(
            run_id=self.run_id,
            node=node,
            inputs={arg: self._value_of(src) for arg, src in node.inputs},
            input_ids={
                label: stored.artifact_id
                for arg, src in node.inputs
                for label, stored in self._stored_inputs(arg, src)
            },
            settings=self.ws.settings,
            sync=self._recorder.flush,
            store=self.ws.artifacts,
            registry=self.ws.materializers,
            trust=self.trust,
            seed=int(key[:8], 16) & 0x7FFFFFFF,
            live_log=live_log_path(self.ws.settings.home, self.run_id, node.name),
        )
        return self.executor.submit(task)

    def _serve_from_cache(self, node: Node, key: str) -> bool:
        meta = self.ws.metadata
        hit = meta.cache_lookup(key)
        if hit is None:
            return False
        origin, outputs = hit
        logged = bool(outputs.pop(_LOGGED, True))  # entries without the marker: assume they did
        if not self._serve(node, origin, outputs, inherit=logged):
            meta.forget_cache(key)  # bytes gone (gc, manual delete): recompute, never serve stale
            return False
        return True

    def _serve(
        self,
        node: Node,
        origin: str,
        outputs: Mapping[str, Mapping[str, Any]],
        *,
        inherit: bool = True,
    ) -> bool:
        """Use recorded outputs for `node` if they are complete and their bytes exist."""
        if set(outputs) != set(node.step.outputs) or not all(
            self.ws.artifacts.exists(o["id"]) for o in outputs.values()
        ):
            return False
        for name, out in outputs.items():
            self._stored[(node.name, name)] = Stored(out["id"], out["m"], out["v"])
        self._record(node, "succeeded", cached=True, origin_id=origin, inherit=inherit)
        return True

    def _finish(self, node: Node, result: TaskResult, *, cached: bool = False) -> None:
        if result.status == "succeeded":
            for name, saved in result.saved.items():
                self._stored[(node.name, name)] = Stored(
                    saved.id, saved.materializer, saved.materializer_version
                )
                if saved.new:
                    self._fresh.add(saved.id)
                if self.executor.in_process:
                    self._values[(node.name, name)] = result.outputs[name]
        self._record(node, result.status, result=result, cached=cached)
        for up in node.upstream:
            self._consumers[up] -= 1
            if self._consumers[up] <= 0:
                for output in self.graph.nodes[up].step.outputs:
                    if (up, output) not in self._kept:
                        self._values.pop((up, output), None)

    def _record(
        self,
        node: Node,
        status: str,
        *,
        cached: bool = False,
        origin_id: str | None = None,
        result: TaskResult | None = None,
        error: tuple[str, str] | None = None,
        inherit: bool = True,
    ) -> None:
        step_run_id = uuid.uuid4().hex
        inputs = {
            label: stored.artifact_id
            for arg, src in node.inputs
            for label, stored in self._stored_inputs(arg, src)
        }
        outputs = {
            out: self._stored[(node.name, out)].artifact_id
            for out in node.step.outputs
            if status == "succeeded" and (node.name, out) in self._stored
        }
        now = time.time()
        fn = node.step.fn
        record = StepRunRecord(
            id=step_run_id,
            run_id=self.run_id,
            name=node.name,
            step=f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', node.step.name)}",
            position=self._position[node.name],
            status=status,
            cached=cached,
            cache_key=self._keys.get(node.name),
            origin_id=origin_id,
            started_at=result.started_at if result else now,
            ended_at=result.ended_at if result else now,
            duration_s=result.duration_s if result else 0.0,
            attempts=len(result.attempts) if result else 0,
            seed=result.seed if result else None,
            error_type=result.error_type if result else (error[0] if error else None),
            error_message=result.error_message if result else (error[1] if error else None),
            traceback=result.traceback if result else None,
            stdout=result.stdout if result else None,
            stderr=result.stderr if result else None,
            inputs=inputs,
            outputs=outputs,
            arguments={arg: _shown(value) for arg, value in self._literals(node).items()},
        )
        artifacts: list[dict[str, Any]] = []
        cache_outputs = None
        if result is not None and result.status == "succeeded":
            artifacts = [
                {
                    "id": s.id,
                    "type_name": s.type_name,
                    "materializer": s.materializer,
                    "materializer_version": s.materializer_version,
                    "safe": s.safe,
                    "size": s.size,
                    "uri": s.uri,
                    "summary": _summary_json(s.summary),
                    "producer_id": step_run_id,
                    "created_at": now,
                }
                for s in result.saved.values()
            ]
            if node.step.cache:
                cache_outputs = {
                    name: {"id": s.id, "m": s.materializer, "v": s.materializer_version}
                    for name, s in result.saved.items()
                }
                cache_outputs[_LOGGED] = bool(result.metrics or result.params)
        self._recorder.add(
            StepFacts(
                record,
                artifacts=artifacts,
                metrics=list(result.metrics) if result else [],
                params=dict(result.params) if result else {},
                cache_outputs=cache_outputs,
                attempts=list(result.attempts) if result else [],
                inherit=inherit,
            ),
            duration_s=result.duration_s if result else 0.0,
        )
        self._busy.pop(node.name, None)
        self._status[node.name] = status
        self._records[node.name] = record
        self.observer.step_finished(record)

    # -- inputs ----------------------------------------------------------------------------------

    def _key_of(self, source: Input) -> Any:
        if isinstance(source, Ref):
            return self._stored[(source.node, source.output)].artifact_id
        if isinstance(source, Collection):
            return [source.kind, [[k, self._key_of(v)] for k, v in source.items]]
        return ["literal", hash_value(source.value)]

    def _value_of(self, source: Input) -> Any:
        if isinstance(source, Ref):
            key = (source.node, source.output)
            return self._values[key] if key in self._values else self._stored[key]
        if isinstance(source, Collection):
            items = [(k, self._value_of(v)) for k, v in source.items]
            if source.kind == "dict":
                return dict(items)
            values = [v for _, v in items]
            return tuple(values) if source.kind == "tuple" else values
        assert isinstance(source, Literal)
        return source.value

    def _literals(self, node: Node) -> dict[str, Any]:
        """The arguments of `node` that no upstream step produces, as plain values."""
        return {arg: src.value for arg, src in node.inputs if isinstance(src, Literal)}

    def _stored_inputs(self, arg: str, source: Input) -> list[tuple[str, Stored]]:
        if isinstance(source, Ref):
            key = (source.node, source.output)
            return [(arg, self._stored[key])] if key in self._stored else []
        if isinstance(source, Collection):
            found = []
            for k, item in source.items:
                found += self._stored_inputs(f"{arg}[{k}]", item)
            return found
        return []


@dataclasses.dataclass
class _MapState:
    items: list[str]
    remaining: int
    started_at: float


_FINGERPRINTS: dict[Any, str] = {}
#: Key in a cache entry's outputs: whether the step logged metrics or params (output names
#: cannot start with "__", so it never clashes).
_LOGGED = "__logged__"
#: Key in a step's cache-key inputs for its `cache_key_fn` result (never an argument name).
_KEY_FN = "__cache_key_fn__"
_RUN_ID = re.compile(r"[0-9a-f]{32}")
_GIT_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="conveyor-git")


def _step_files(graph: Graph) -> list[Path]:
    """The source files the pipeline's steps are defined in."""
    files = set()
    for fn in {
        node.step.fn for node in graph.nodes.values()
    }:  # a map or a loop: one step, many nodes
        try:
            found = inspect.getsourcefile(fn)
        except TypeError:  # a builtin or C function
            continue
        if found:
            files.add(Path(found))
    return sorted(files)


def _graph_rows(graph: Graph) -> list[tuple[str, str, list[str], str | None]]:
    """The DAG as the metadata store keeps it: (node, step, upstream nodes, map_over)."""
    return [
        (name, node.step.name, sorted(node.upstream), node.map_over)
        for name, node in graph.nodes.items()
    ]


def _code(git: Future[CodeState]) -> CodeState:
    try:
        return git.result(timeout=30)
    except Exception:  # no git, a hung git: the run is recorded without its code state
        return None, None


def _step_fingerprint(node: Node) -> str:
    step = node.step
    found = _FINGERPRINTS.get(step)
    if found is None:
        found = _FINGERPRINTS[step] = digest(
            code_fingerprint(step.fn).encode(), ",".join(step.outputs).encode()
        )
    return found


def _json_params(params: Any) -> dict[str, Any]:
    from conveyor.core.hashing import canonical

    return {
        k: v if isinstance(v, (str, int, float, bool, type(None))) else canonical(v)
        for k, v in params.items()
    }


#: A literal argument longer than this in JSON is recorded as the start of its repr.
_SHOWN_CHARS = 2000


def _shown(value: Any) -> Any:
    """A step's literal argument as it is recorded for people to read: JSON where it is short,
    else a repr (an estimator object reads as `LogisticRegression(C=0.5)`)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    import json

    try:
        text = json.dumps(value, allow_nan=True, default=repr)
    except (ValueError, RecursionError):  # a circular structure
        return reprlib.repr(value)
    return json.loads(text) if len(text) <= _SHOWN_CHARS else reprlib.repr(value)


def _summary_json(summary: dict[str, Any]) -> str:
    import json

    return json.dumps(summary, default=str, allow_nan=True)


def _loader(ws: Workspace, trust: bool, in_memory: dict[str, Any]) -> Any:
    def load(artifact_id: str) -> Any:
        if artifact_id in in_memory:
            return in_memory[artifact_id]
        return load_recorded(ws, artifact_id, trust=trust)

    return load
