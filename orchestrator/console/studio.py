"""The workflow studio: design a state machine in the browser, for a new machine or a new version.

The page (`templates/studio.html`, `static/studio*.js`) keeps one definition in the browser and
draws three views of it: the graph, the code and a form for the selected state. The server does
what the browser cannot do alone: it checks the definition with the engine's own validator and
turns it into the console's graph (`check`), lists what the palette can offer (`palette`), saves
through the same service calls as the API (`save`) and runs one state through TestState
(`test_state`).

Where a problem is: the validator answers with JSON pointers (``/States/Fetch/Retry/0``);
`place_of` walks a pointer down to the innermost state it is in, so the graph can mark that
state's node. The graph numbers its states ``s0``, ``s1``, ... depth first in definition order;
`places` walks the definition in that same order, so the two line up one to one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from orchestrator.asl.parse import validate
from orchestrator.console.app import Console, json_script
from orchestrator.console.graph import build_graph
from orchestrator.integrations import registry
from orchestrator.service import ServiceError

# A new state machine starts empty: the palette adds the first state and makes it the StartAt.
BLANK = {"Comment": "A description of my state machine", "StartAt": "", "States": {}}
# A role is required to create a state machine (as on AWS); the engine does not assume it.
DEFAULT_ROLE = "arn:aws:iam::{account}:role/orchestrator-studio"
MAX_DIAGNOSTICS = 200

Step = tuple[str, int | str]  # (the Parallel or Map state's name, its branch index or "items")


@dataclass(frozen=True)
class Place:
    """Where a state is: the Parallel branches and Map processors around it, and its name."""

    scope: tuple[Step, ...]
    name: str


class Studio:
    """The studio's routes; see the module's docstring."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.service = console.service

    async def call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        return await run_in_threadpool(function, *args, **kwargs)

    # -- pages ------------------------------------------------------------------------------------

    async def new(self, request: Request) -> Response:
        return await self._page(request, name=None, definition=json.dumps(BLANK, indent=2))

    async def edit(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            described = await self.call(self.service.describe_state_machine, self.service.state_machine_arn(name))
        except ServiceError as exc:
            status = 404 if exc.code.endswith("DoesNotExist") else 400
            return await self.console.render(request, "problem.html", status_code=status, error=exc)
        return await self._page(request, name=name, definition=described["definition"], role=described["roleArn"])

    async def _page(self, request: Request, *, name: str | None, definition: str, role: str | None = None) -> Response:
        session = request.state.session
        config = {
            "machine": name,
            "definition": definition,
            "csrf": session.csrf if session else "",
            "readOnly": self.console.read_only,
            "roleArn": role or self._default_role(),
            "startUrl": f"/console/state-machines/{quote(name, safe='')}/start" if name else None,
        }
        return await self.console.render(
            request, "studio.html", nav="machines", name=name, studio_data=json_script(config)
        )

    def _default_role(self) -> str:
        return DEFAULT_ROLE.format(account=self.service.settings.account)

    # -- what the palette offers ------------------------------------------------------------------

    async def palette(self, request: Request) -> Response:
        settings = self.service.settings
        topics = await self.call(self.service.list_topics)
        tables = await self.call(self.service.list_tables)
        names = await self.call(self.service.machine_names)
        prefix = f"arn:aws:lambda:{settings.region}:{settings.account}:function:"
        return JSONResponse(
            {
                # Functions are named as AWS's Workflow Studio names them: the ARN of $LATEST.
                "functions": [{"name": n, "arn": f"{prefix}{n}:$LATEST"} for n in sorted(registry.registered())],
                "topics": [{"name": t["Name"], "arn": t["TopicArn"]} for t in topics],
                "tables": sorted(tables.get("TableNames", [])),
                "machines": [{"name": n, "arn": self.service.state_machine_arn(n)} for n in names],
            }
        )

    # -- checking, saving, testing ----------------------------------------------------------------

    async def check(self, request: Request) -> Response:
        body = await _body(request)
        return JSONResponse(await self.call(check, str(body.get("definition", ""))))

    async def save(self, request: Request) -> Response:
        body = await _body(request)
        definition = str(body.get("definition", ""))
        errors = [d for d in (await self.call(check, definition))["diagnostics"] if d["severity"] == "ERROR"]
        if errors:
            count = f"{len(errors)} problem{'s' if len(errors) != 1 else ''}"
            return _refused(f"Not saved: the definition has {count} to fix first.", 400, diagnostics=errors)
        name = str(body.get("name") or "").strip()
        try:
            saved = await self.call(self._save, name, definition, body)
        except ServiceError as exc:
            return _refused(exc.message, 409 if exc.code.endswith("AlreadyExists") else 400, code=exc.code)
        return JSONResponse(saved)

    def _save(self, name: str, definition: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create the machine (``existing`` false) or update it; publish a version when asked."""
        publish = body.get("publish") is True
        description = str(body.get("description") or "").strip() or None
        if body.get("existing") is True:
            result = self.service.update_state_machine(
                self.service.state_machine_arn(name),
                definition=definition,
                publish_version=publish,
                version_description=description if publish else None,
            )
            arn = self.service.state_machine_arn(name)
        else:
            role = str(body.get("roleArn") or "") or self._default_role()
            result = self.service.create_state_machine(
                name=name,
                definition=definition,
                role_arn=role,
                publish_version=publish,
                version_description=description if publish else None,
            )
            arn = result["stateMachineArn"]
        page = f"/console/state-machines/{quote(name, safe='')}"
        return {
            "name": name,
            "stateMachineArn": arn,
            "versionArn": result.get("stateMachineVersionArn"),
            "machineUrl": page,
            "editUrl": f"{page}/edit",
            "startUrl": f"{page}/start",
        }

    async def test_state(self, request: Request) -> Response:
        body = await _body(request)
        try:
            state = _state_alone(str(body.get("definition", "")), body.get("scope"), str(body.get("state", "")))
            report = await self.call(
                self.service.test_state,
                json.dumps(state),
                role_arn=str(body.get("roleArn") or "") or self._default_role(),
                input=str(body.get("input") or "{}"),
                inspection_level="DEBUG",
            )
        except ServiceError as exc:
            return _refused(exc.message, 400, code=exc.code)
        return JSONResponse(report)


# -- the check: diagnostics on their states, and the graph --------------------------------------


def check(text: str) -> dict[str, Any]:
    """What the studio shows for a definition: its graph (when it is a JSON object) and every
    problem the validator finds, each placed on its state (and, for broken JSON, its line)."""
    document, line = _read(text)
    diagnostics = [d.to_json() for d in validate(text)][:MAX_DIAGNOSTICS]
    if document is None:
        for diagnostic in diagnostics:
            diagnostic.update(state=None, node=None, line=line)
        return {"dot": None, "nodes": {}, "diagnostics": diagnostics}
    graph = build_graph(document)
    placed = places(document)
    ids = {place: node.id for place, node in zip(placed, graph.nodes, strict=True)}
    for diagnostic in diagnostics:
        place = place_of(diagnostic["location"], document)
        diagnostic.update(state=place.name if place else None, node=ids.get(place) if place else None)
    return {"dot": graph.dot, "nodes": node_map(document, graph.nodes, placed), "diagnostics": diagnostics}


def _read(text: str) -> tuple[dict[str, Any] | None, int | None]:
    """The definition as an object, or None and the line where the JSON breaks (if it does)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, exc.lineno
    except RecursionError:
        return None, None
    return (document, None) if isinstance(document, dict) else (None, 1)


def node_map(document: dict[str, Any], nodes: Any, placed: list[Place]) -> dict[str, dict[str, Any]]:
    """Graph id -> the state it draws (name, type, scope), plus each Parallel branch's cluster."""
    out: dict[str, dict[str, Any]] = {}
    for node, place in zip(nodes, placed, strict=True):
        scope = [list(step) for step in place.scope]
        out[node.id] = {"name": node.name, "type": node.type, "scope": scope}
        if node.type == "Parallel":
            branches = _state(document, place).get("Branches")
            for index, branch in enumerate(branches if isinstance(branches, list) else ()):
                if isinstance(branch, dict):
                    out[f"{node.id}_b{index}"] = {"branch": index, "name": node.name, "scope": scope}
    return out


def places(document: dict[str, Any], scope: tuple[Step, ...] = ()) -> list[Place]:
    """Every state, depth first in definition order: the order in which the graph numbers them."""
    found: list[Place] = []
    states = document.get("States")
    for name, state in states.items() if isinstance(states, dict) else ():
        if not isinstance(state, dict):
            continue
        found.append(Place(scope, str(name)))
        for step, inner in _scopes_in(str(name), state):
            found += places(inner, (*scope, step))
    return found


def _scopes_in(name: str, state: dict[str, Any]) -> list[tuple[Step, dict[str, Any]]]:
    """The blocks of states inside a Parallel (its branches) or a Map (its processor)."""
    if state.get("Type") == "Parallel":
        branches = state.get("Branches")
        listed = branches if isinstance(branches, list) else []
        return [((name, i), b) for i, b in enumerate(listed) if isinstance(b, dict)]
    if state.get("Type") == "Map":
        processor = _processor(state)
        return [((name, "items"), processor)] if isinstance(processor, dict) else []
    return []


def _processor(map_state: dict[str, Any]) -> Any:
    """A Map's states: its ItemProcessor, or the Iterator that older definitions use."""
    return map_state.get("ItemProcessor", map_state.get("Iterator"))


def place_of(location: str, document: dict[str, Any]) -> Place | None:
    """The innermost state a JSON pointer is in (None for the machine's own fields)."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in location.split("/")[1:]]
    block: Any = document
    scope: tuple[Step, ...] = ()
    found: Place | None = None
    while len(parts) >= 2 and parts[0] == "States" and isinstance(block, dict):
        states = block.get("States")
        if not isinstance(states, dict) or not isinstance(states.get(parts[1]), dict):
            break
        name, state, parts = parts[1], states[parts[1]], parts[2:]
        found = Place(scope, name)
        inner = _inner_block(name, state, parts)
        if inner is None:
            break
        step, block, parts = inner
        scope = (*scope, step)
    return found


def _inner_block(name: str, state: dict[str, Any], parts: list[str]) -> tuple[Step, Any, list[str]] | None:
    """Step from a state into the branch or processor the rest of a pointer goes on in."""
    if len(parts) >= 2 and parts[0] == "Branches" and parts[1].isdigit():
        branches = state.get("Branches")
        index = int(parts[1])
        if isinstance(branches, list) and index < len(branches):
            return (name, index), branches[index], parts[2:]
    if parts and parts[0] in ("ItemProcessor", "Iterator") and isinstance(state.get(parts[0]), dict):
        return (name, "items"), state[parts[0]], parts[1:]
    return None


def _state(document: dict[str, Any], place: Place) -> dict[str, Any]:
    block: Any = document
    for name, branch in place.scope:
        state = block["States"][name]
        block = state["Branches"][branch] if isinstance(branch, int) else _processor(state)
    return block["States"][place.name]  # type: ignore[no-any-return]


def _state_alone(text: str, scope: Any, name: str) -> dict[str, Any]:
    """The state to test, as TestState takes one state alone: it runs even while other states of
    the machine are unfinished. It keeps the machine's query language."""
    document, _ = _read(text)
    if document is None:
        raise ServiceError("InvalidDefinition", "The definition is not valid JSON: fix it in the code view first.")
    steps = tuple((str(s[0]), s[1]) for s in scope) if isinstance(scope, list) else ()
    try:
        state = dict(_state(document, Place(steps, name)))
    except (KeyError, IndexError, TypeError):
        raise ServiceError("InvalidDefinition", f"There is no state named {name!r} to test.") from None
    if "QueryLanguage" in document and "QueryLanguage" not in state:
        state["QueryLanguage"] = document["QueryLanguage"]
    return state


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _refused(message: str, status: int, **details: Any) -> JSONResponse:
    return JSONResponse({"message": message, **details}, status_code=status)
