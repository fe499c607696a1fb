"""The API reference (docs/reference/, built by `make docs`) cannot fall behind the code.

The reference is rendered from the docstrings, so these tests read what it is made of: every
public object has an entry (a ``::: name`` line on a page), and every public attribute of every
record a test asserts on is named, with a type and a meaning, in its class's docstring (a row of
its ``Attributes:`` section) or, for a property or method, in its own docstring. `make docs`
builds the pages with warnings as errors, so what is written here also renders.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import logging
import pathlib
import re
import textwrap
from typing import Any

import pytest

import understudy
import understudy.fakes
import understudy.pytest_plugin
import understudy.tls

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = ROOT / "docs" / "reference"

#: The records a test asserts on: what servers hand back from their journals and waits, what
#: those carry, and the errors a test catches.
RECORDS: list[type] = [
    understudy.Request,
    understudy.Headers,
    understudy.Query,
    understudy.SMTPMessage,
    understudy.SyslogMessage,
    understudy.ConnectionRecord,
    understudy.Datagram,
    understudy.ProxyConnection,
    understudy.TLSInfo,
    understudy.TLSFailure,
    understudy.BadFrame,
    understudy.WebSocketConnection,
    understudy.WebSocketMessage,
    understudy.WebSocketClose,
    understudy.ResponseRecord,
    understudy.SMTPReply,
    understudy.fakes.PyPIUpload,
    understudy.fakes.PyPIDownload,
    understudy.fakes.PyPIFile,
    understudy.tls.ClientCertificate,
    understudy.UnderstudyError,
    understudy.ConfigurationError,
    understudy.WaitTimeout,
    understudy.AddressInUse,
    understudy.UnexpectedRequest,
    understudy.UnmetExpectation,
    understudy.ExpectationExceeded,
]

#: Every public class: each of its public properties and methods has a docstring of its own.
PUBLIC_CLASSES: list[type] = sorted(
    {
        value
        for module in (understudy, understudy.fakes, understudy.tls)
        for value in (getattr(module, name) for name in module.__all__)
        if isinstance(value, type)
    },
    key=lambda cls: cls.__qualname__,
)


def _hidden() -> list[re.Pattern[str]]:
    """The names mkdocs.yml hides from the reference (its mkdocstrings ``filters``)."""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    return [re.compile(pattern) for pattern in re.findall(r'^\s*- "!(.+)"$', config, re.MULTILINE)]


_ENTRY = re.compile(r"^(\w+)(?:\s*\(([^)]*)\))?:\s*(.*)$")


def _directives() -> set[str]:
    """The objects the reference pages render: the names after ``:::``."""
    names = set()
    for page in PAGES.glob("*.md"):
        names.update(re.findall(r"^::: ([\w.]+)", page.read_text(encoding="utf-8"), re.MULTILINE))
    return names


def _own_classes(cls: type) -> list[type]:
    """``cls`` and its bases that understudy defines (private ones included)."""
    return [klass for klass in cls.__mro__ if klass.__module__.startswith("understudy")]


def _attributes_section(cls: type) -> dict[str, tuple[str | None, str]]:
    """The ``Attributes:`` rows of ``cls``'s docstring: name -> (type given, description)."""
    rows: dict[str, tuple[str | None, str]] = {}
    doc = inspect.cleandoc(cls.__doc__ or "")
    lines = doc.splitlines()
    for index, line in enumerate(lines):
        if line.strip() != "Attributes:":
            continue
        base = len(line) - len(line.lstrip())
        body = []
        for following in lines[index + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) <= base:
                break
            body.append(following)
        name = None
        for row in textwrap.dedent("\n".join(body)).splitlines():
            match = _ENTRY.match(row)
            if match and not row.startswith(" "):
                name = match.group(1)
                rows[name] = (match.group(2), match.group(3).strip())
            elif name is not None and row.strip():
                given, text = rows[name]
                rows[name] = (given, f"{text} {row.strip()}".strip())
    return rows


def _assigned_on_self(cls: type) -> set[str]:
    """The attributes the class's own methods assign on ``self`` (``self.x = ...``)."""
    try:
        trees = [ast.parse(textwrap.dedent(inspect.getsource(cls)))]
    except (OSError, TypeError):  # (a class whose __module__ is the package it is exported from)
        trees = []
        for function in vars(cls).values():
            if inspect.isfunction(function):
                try:  # (not one a dataclass made)
                    trees.append(ast.parse(textwrap.dedent(inspect.getsource(function))))
                except OSError:
                    continue
    names = set()
    for node in (node for tree in trees for node in ast.walk(tree)):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
            ):
                names.add(target.attr)
        if (  # object.__setattr__(self, "name", value), as the immutable records store
            isinstance(node, ast.Call)
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id == "self"
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            names.add(node.args[1].value)
    return names


def _data_attributes(cls: type) -> set[str]:
    """Public attributes that hold data (not properties or methods) on instances of ``cls``."""
    names: set[str] = set()
    for klass in _own_classes(cls):
        slots = vars(klass).get("__slots__", ())
        names.update([slots] if isinstance(slots, str) else slots)
        names.update(vars(klass).get("__annotations__", {}))
        names.update(_assigned_on_self(klass))
    if dataclasses.is_dataclass(cls):
        names.update(field.name for field in dataclasses.fields(cls))
    return {
        name
        for name in names
        if not name.startswith("_")
        and not isinstance(inspect.getattr_static(cls, name, None), property)
        and not callable(inspect.getattr_static(cls, name, None))
        and "ClassVar" not in str(_annotation(cls, name))
    }


def _annotation(cls: type, name: str) -> Any:
    for klass in _own_classes(cls):
        annotations = vars(klass).get("__annotations__", {})
        if name in annotations:
            return annotations[name]
    return None


def _members(cls: type) -> dict[str, Any]:
    """Public properties and methods that understudy defines on ``cls`` (or its bases)."""
    members: dict[str, Any] = {}
    for klass in reversed(_own_classes(cls)):
        for name, value in vars(klass).items():
            if name.startswith("_"):
                continue
            if isinstance(value, property | staticmethod | classmethod) or inspect.isfunction(
                value
            ):
                members[name] = value
    return members


def test_the_reference_hides_only_private_names_and_loop_plumbing() -> None:
    hidden = {pattern.pattern for pattern in _hidden()}
    assert "^_" in hidden
    for name in ("requests", "messages", "wait_for_requests", "json", "tls", "peer"):
        assert not any(re.search(pattern, name) for pattern in hidden), name


def test_every_public_object_has_an_entry_in_the_reference() -> None:
    rendered = _directives()
    public = {f"understudy.{name}" for name in understudy.__all__}
    public |= {f"understudy.fakes.{name}" for name in understudy.fakes.__all__}
    missing = sorted(public - rendered)
    assert not missing, f"add a '::: name' line for each to a page of docs/reference/: {missing}"
    # understudy.tls is rendered whole, as a module (its functions and classes with it).
    assert "understudy.tls" in rendered


@pytest.mark.parametrize("cls", RECORDS, ids=lambda cls: cls.__qualname__)
def test_every_record_attribute_has_a_type_and_a_meaning(cls: type) -> None:
    documented: dict[str, tuple[str | None, str]] = {}
    for klass in reversed(_own_classes(cls)):
        documented.update(_attributes_section(klass))
    problems = []
    for name in sorted(_data_attributes(cls)):
        if name not in documented:
            problems.append(f"{name}: not in the Attributes section of the docstring")
            continue
        given, meaning = documented[name]
        if not meaning:
            problems.append(f"{name}: no description")
        if given is None and str(_annotation(cls, name)) in ("None", "Any", "typing.Any"):
            problems.append(f"{name}: no type (write 'name (type): ...' or annotate it)")
    problems += [
        f"{name}: in the Attributes section but not an attribute"
        for name in sorted(set(documented) - _data_attributes(cls) - set(_members(cls)))
    ]
    assert not problems, f"{cls.__qualname__}'s docstring: " + "; ".join(problems)


@pytest.mark.parametrize("cls", PUBLIC_CLASSES, ids=lambda cls: cls.__qualname__)
def test_every_public_property_and_method_says_what_it_is(cls: type) -> None:
    problems = []
    hidden = _hidden()
    for name, member in sorted(_members(cls).items()):
        if any(pattern.search(name) for pattern in hidden):
            continue
        function = member.fget if isinstance(member, property) else member
        function = getattr(function, "__func__", function)
        if not (function.__doc__ or "").strip():
            problems.append(f"{name}: no docstring")
        if isinstance(member, property) and "return" not in function.__annotations__:
            problems.append(f"{name}: no return annotation (the type the reference shows)")
    assert not problems, f"{cls.__qualname__}: " + "; ".join(problems)


def test_every_fixture_is_named_on_the_plugin_page() -> None:
    page = (PAGES / "pytest.md").read_text(encoding="utf-8")
    fixtures = {
        name
        for name, value in vars(understudy.pytest_plugin).items()
        if hasattr(value, "_fixture_function_marker")
        or type(value).__name__ == "FixtureFunctionDefinition"
    }
    assert len(fixtures) > 20  # every server kind: the fixture, its options and its factory
    missing = sorted(name for name in fixtures if f"`{name}`" not in page)
    assert not missing, f"docs/reference/pytest.md does not name the fixtures {missing}"


def test_every_record_page_links_the_howto_that_uses_it() -> None:
    for path in sorted((ROOT / "tests" / "examples").glob("test_howto_*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        pages = re.findall(r"docs/reference/(\w+\.md)", doc)
        assert pages, f"{path.name}: its docstring links no reference page"
        for page in pages:
            assert (PAGES / page).is_file(), f"{path.name} links {page}, which does not exist"


def test_the_readme_links_the_reference_from_its_first_screen() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_screen = readme.partition("\n---\n")[0]
    assert "(docs/reference/index.md)" in first_screen
    assert "make docs" in first_screen
    for page in re.findall(r"\(docs/reference/(\w+\.md)\)", readme):
        assert (PAGES / page).is_file(), f"README.md links docs/reference/{page}, which is missing"


def test_every_docstring_reads_as_the_reference_renders_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """griffe, which renders the reference, reads every docstring without a complaint, and
    each record's ``Attributes:`` rows as rows: a section it cannot read (a list of names as
    one ``Args:`` entry; a ``"\\n"`` written unescaped, which ends a section) is shown as raw
    text, and ``make docs`` does not say so."""
    griffe = pytest.importorskip("griffe")  # (a docs dependency: not in `make test-oldest`)
    with caplog.at_level(logging.WARNING, logger="griffe"):
        package = griffe.load(
            "understudy",
            search_paths=[str(ROOT / "src")],
            docstring_parser="google",
            allow_inspection=False,
        )
        pending = [package]
        while pending:
            obj = pending.pop()
            if obj.docstring is not None:
                obj.docstring.parse()
            for member in obj.members.values():
                if member.is_alias:
                    continue
                if member.is_module or member.is_class:
                    pending.append(member)
                elif member.docstring is not None:
                    member.docstring.parse()
    complaints = [record.getMessage() for record in caplog.records]
    assert not complaints, complaints
    unread = {}
    for cls in RECORDS:
        rows = set(_attributes_section(cls))
        sections = griffe.Docstring(inspect.cleandoc(cls.__doc__ or ""), parser="google").parse()
        read = {
            attribute.name
            for section in sections
            if section.kind.value == "attributes"
            for attribute in section.value
        }
        if rows - read:
            unread[cls.__qualname__] = sorted(rows - read)
    assert not unread, f"Attributes rows griffe does not read as rows: {unread}"


def test_the_reference_shows_rest_markup_as_rest_renders_it() -> None:
    """docs/_ext/griffe_understudy.py: a role is a link or code, ``.. versionadded::`` a
    sentence, and a paragraph's ``::`` before a literal block one colon, as reST shows it."""
    griffe = pytest.importorskip("griffe")  # (a docs dependency: not in `make test-oldest`)
    extension = str(ROOT / "docs" / "_ext" / "griffe_understudy.py")
    package = griffe.load(
        "understudy",
        search_paths=[str(ROOT / "src")],
        docstring_parser="google",
        allow_inspection=False,
        extensions=griffe.load_extensions(extension),
    )
    tls = package["tls"].docstring.value
    assert "through one of:\n\n    import understudy.tls" in tls
    assert "::\n" not in tls
    assert "*Added in version 0.1.*" in tls
    expectation = package["_http._expect.Expectation"].docstring.value
    assert "calls with `then`:\n" in expectation  # (a role naming no public object: code)
