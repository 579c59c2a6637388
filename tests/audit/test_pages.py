"""The audit page names every action the code can record, in Chinese and in English.

The actions are read from the source, not listed by hand: every call of ``record_audit``,
and every call of a helper that hands its own ``action`` parameter on to it (a domain's
``_audit``, ``_move``, ``_touch`` …), however many helpers deep.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field
from pathlib import Path

from patron.web import i18n

SOURCE = Path(__file__).parents[2] / "src" / "patron"
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_Function = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class _Param:
    """Where a helper takes the action: its name, and its place when given positionally."""

    name: str
    position: int | None


@dataclass
class _Module:
    path: Path
    tree: ast.Module
    # module-level names bound to a string, or to a dict of strings
    constants: dict[str, set[str]] = field(default_factory=dict)
    functions: set[str] = field(default_factory=set)


@dataclass
class _Scan:
    found: set[str] = field(default_factory=set)
    unreadable: list[str] = field(default_factory=list)


def _parse(path: Path) -> _Module:
    module = _Module(path, ast.parse(path.read_text(encoding="utf-8")))
    module.functions = {f.name for f in ast.walk(module.tree) if isinstance(f, _FUNCTIONS)}
    for node in module.tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            values = _strings(node.value)
            if isinstance(node.value, ast.Dict):
                values = set().union(*(_strings(v) or {""} for v in node.value.values))
            for target in targets:
                if isinstance(target, ast.Name) and values:
                    module.constants[target.id] = values
    return module


def _strings(node: ast.expr) -> set[str]:
    """The strings a literal expression can be (a string, either branch of an ``if``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        body, orelse = _strings(node.body), _strings(node.orelse)
        return body | orelse if body and orelse else set()
    return set()


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _params(function: _Function) -> dict[str, _Param]:
    positional = [*function.args.posonlyargs, *function.args.args]
    found = {a.arg: _Param(a.arg, i) for i, a in enumerate(positional)}
    found.update({a.arg: _Param(a.arg, None) for a in function.args.kwonlyargs})
    return found


def _argument(call: ast.Call, param: _Param) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == param.name:
            return keyword.value
    at = param.position
    if at is not None and at < len(call.args):
        starred = any(isinstance(a, ast.Starred) for a in call.args[: at + 1])
        return None if starred else call.args[at]
    return None


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


class _CallFinder(ast.NodeVisitor):
    """Every call, with the innermost function it is made in."""

    def __init__(self, module: _Module) -> None:
        self.module = module
        self.inside: list[_Function] = []
        self.calls: list[tuple[_Module, _Function, ast.Call]] = []

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.inside.append(node)
        self.generic_visit(node)
        self.inside.pop()

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Call(self, node: ast.Call) -> None:
        if self.inside:
            self.calls.append((self.module, self.inside[-1], node))
        self.generic_visit(node)


@functools.cache
def _source() -> tuple[tuple[_Module, ...], tuple[tuple[_Module, _Function, ast.Call], ...]]:
    """The package's modules, parsed once, and every call made inside a function."""
    modules = tuple(_parse(path) for path in sorted(SOURCE.rglob("*.py")))
    calls: list[tuple[_Module, _Function, ast.Call]] = []
    for module in modules:
        finder = _CallFinder(module)
        finder.visit(module.tree)
        calls.extend(finder.calls)
    return modules, tuple(calls)


def _helpers(argument: str) -> dict[tuple[Path, str], _Param]:
    """``record_audit`` and every function that hands its own parameter on to it as
    ``argument``, by module and name (several modules have an ``_audit`` of their own)."""
    helpers: dict[tuple[Path, str], _Param] = {}
    changed = True
    while changed:
        changed = False
        for module, function, call in _source()[1]:
            taken = _helper_called(helpers, module, call, argument)
            if taken is None or (module.path, function.name) in helpers:
                continue
            given = _argument(call, taken)
            params = _params(function)
            if isinstance(given, ast.Name) and given.id in params:
                helpers[module.path, function.name] = params[given.id]
                changed = True
    return helpers


def _helper_called(
    helpers: dict[tuple[Path, str], _Param], module: _Module, call: ast.Call, argument: str
) -> _Param | None:
    """The helper a call reaches: the module's own function of that name, else one imported
    (``record_audit`` itself, or a helper of that name elsewhere)."""
    name = _callee(call)
    if name is None:
        return None
    if name in module.functions:
        return helpers.get((module.path, name))
    if name == "record_audit":
        return _Param(argument, None)
    found = {p for (_path, n), p in helpers.items() if n == name}
    return found.pop() if len(found) == 1 else None


def _local_strings(function: ast.AST, name: str) -> set[str]:
    """The strings a local variable is given, when every assignment of it is a literal."""
    found: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            values = _strings(node.value)
            if not values:
                return set()
            found |= values
    return found


def _scan(argument: str = "action", *, required: bool = True) -> _Scan:
    """The strings given to ``record_audit`` as ``argument``, and the places where it is
    given something else (a name the scan cannot follow, or nothing when ``required``)."""
    helpers = _helpers(argument)
    scan = _Scan()
    for module, function, call in _source()[1]:
        taken = _helper_called(helpers, module, call, argument)
        if taken is None:
            continue
        given = _argument(call, taken)
        if not required and (given is None or _is_none(given)):
            continue
        mine = helpers.get((module.path, function.name))
        if isinstance(given, ast.Name) and mine is not None and given.id == mine.name:
            continue  # a helper handing its own parameter on: its callers are read
        values = set() if given is None else _strings(given)
        if not values and isinstance(given, ast.Name):
            values = _local_strings(function, given.id) or module.constants.get(given.id, set())
        if not values and isinstance(given, ast.Subscript) and isinstance(given.value, ast.Name):
            values = module.constants.get(given.value.id, set())
        if values and "" not in values:
            scan.found |= values
        else:
            scan.unreadable.append(f"{module.path.relative_to(SOURCE)}:{call.lineno}")
    return scan


def _english_msgids() -> set[str]:
    from babel.messages.pofile import read_po

    path = i18n.TRANSLATIONS_DIR / "en" / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    with path.open("rb") as po:
        return {str(m.id) for m in read_po(po, locale="en") if m.id}


def _untranslated(titles: dict[str, str], codes: set[str]) -> tuple[list[str], list[str]]:
    """The codes whose title has no Chinese, and those whose title is not in the English
    catalogue (which holds every msgid of the console)."""
    chinese, english = i18n.load_catalogue("zh_CN"), _english_msgids()
    no_chinese = sorted(c for c in codes if chinese.gettext(titles[c]) == titles[c])
    no_english = sorted(c for c in codes if titles[c] not in english)
    return no_chinese, no_english


def test_the_scan_reads_actions_given_directly_and_through_helpers() -> None:
    scan = _scan()
    assert not scan.unreadable, (
        "write these audit actions out as strings (or a dict of strings) so the audit page "
        f"can name them: {scan.unreadable}"
    )
    assert {"sign_in", "customer.reveal", "loyalty.adjust"} <= scan.found  # directly
    assert {
        "customer.merge",  # through customers/merges.py's helper
        "customer.tag_remove",  # customers/writes.py
        "campaign.approve",  # campaigns/service.py: _move, then _audit
        "journey.disable",  # journeys/service.py: one branch of an if, through _audit
        "support.calendar.update",  # support/calendars.py's _touch
        "webhook.rotate",  # events/webhooks.py's _audit
        "privacy.request.refuse",  # a dict of the actions
        "privacy.register.delete",  # one branch of an if
    } <= scan.found


def test_every_audited_action_has_a_title_in_chinese_and_english() -> None:
    from patron.audit.pages import ACTION_TITLES

    recorded = _scan().found
    untitled = sorted(recorded - set(ACTION_TITLES))
    assert not untitled, f"add these to patron.audit.pages.ACTION_TITLES: {untitled}"
    no_chinese, no_english = _untranslated(ACTION_TITLES, recorded)
    assert not no_chinese, f"add the Chinese of these actions' titles: {no_chinese}"
    assert not no_english, f"add these actions' titles to the English catalogue: {no_english}"


def test_every_audited_target_kind_has_a_title_in_chinese_and_english() -> None:
    from patron.audit.pages import TARGET_KIND_TITLES

    scan = _scan("target_kind", required=False)
    assert not scan.unreadable, f"write these target kinds out as strings: {scan.unreadable}"
    assert {"customer", "campaign", "journey", "ticket"} <= scan.found
    untitled = sorted(scan.found - set(TARGET_KIND_TITLES))
    assert not untitled, f"add these to patron.audit.pages.TARGET_KIND_TITLES: {untitled}"
    no_chinese, no_english = _untranslated(TARGET_KIND_TITLES, scan.found)
    assert not no_chinese, f"add the Chinese of these target kinds' titles: {no_chinese}"
    assert not no_english, f"add these target kinds' titles to the English catalogue: {no_english}"
