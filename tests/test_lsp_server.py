"""End-to-end tests: the real server (`python -m envls serve`) driven over stdio by pytest-lsp.

Each test starts its own server with recorded client capabilities (VS Code 1.65, Neovim 0.7,
and VS Code with pull diagnostics announced). Findings themselves are tested in core
tests; here the point is the protocol: versions, ranges in UTF-16, requests that answer
while the file is broken, and a server that survives hostile input.
"""

from __future__ import annotations

import asyncio
import random
import re

import pytest
import pytest_lsp
import yaml
from lsp_support import (
    CONFIG,
    DATA,
    NEOVIM,
    PROFILES,
    PULL,
    VSCODE,
    EnvClient,
    apply_edits,
    by_code,
    codes,
    edits_of,
    line_starts,
    range_of,
    session,
    shutdown,
    span,
    start,
    text_at,
)
from lsprotocol import types

pytestmark = pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning")

PROBLEMS = (DATA / "problems.yml").read_text(encoding="utf-8")
EXPORTED = (DATA / "exported.yml").read_text(encoding="utf-8")
OUTLINE = (DATA / "outline.yml").read_text(encoding="utf-8")
CI_WORKFLOW = (DATA / "ci.yml").read_text(encoding="utf-8")

# What problems.yml must produce: code, severity and exact range (0-based, UTF-16).
EXPECTED_PROBLEMS = [
    ("invalid-env-name", types.DiagnosticSeverity.Error, span(0, 6, 10)),
    ("unknown-key", types.DiagnosticSeverity.Warning, span(1, 0, 7)),
    ("suspicious-spec", types.DiagnosticSeverity.Warning, span(4, 4, 15)),
    ("pip-not-listed", types.DiagnosticSeverity.Warning, span(6, 4, 7)),
    ("invalid-pip-requirement", types.DiagnosticSeverity.Error, span(7, 8, 20)),
]


@pytest_lsp.fixture(config=CONFIG, params=PROFILES)
async def client(request, lsp_client: EnvClient, tmp_path):
    """A server for each of the recorded clients (VS Code, Neovim 0.7)."""
    await start(lsp_client, request.param, tmp_path)
    yield
    await shutdown(lsp_client)


@pytest_lsp.fixture(config=CONFIG)
async def vscode(lsp_client: EnvClient, tmp_path):
    await start(lsp_client, VSCODE, tmp_path)
    yield
    await shutdown(lsp_client)


@pytest_lsp.fixture(config=CONFIG)
async def pull_client(lsp_client: EnvClient, tmp_path):
    await start(lsp_client, PULL, tmp_path)
    yield
    await shutdown(lsp_client)


def _summary(diagnostics):
    return [(str(d.code), d.severity, d.range) for d in diagnostics]


async def _open(client: EnvClient, uri: str, text: str) -> types.PublishDiagnosticsParams:
    client.open(uri, text)
    return await client.wait_for_publish(uri, 1)


# 1. Diagnostics on open ---------------------------------------------------------------------

async def test_diagnostics_pushed_on_open_with_version_source_and_ranges(client: EnvClient, tmp_path):
    uri = (tmp_path / "environment.yml").as_uri()
    published = await _open(client, uri, PROBLEMS)

    assert published.version == 1
    assert _summary(published.diagnostics) == EXPECTED_PROBLEMS
    for diagnostic in published.diagnostics:
        assert diagnostic.source == "envls"
        assert isinstance(diagnostic.code, str)
        assert diagnostic.message
    assert text_at(PROBLEMS, by_code(published.diagnostics, "unknown-key").range) == "chanels"
    assert text_at(PROBLEMS, by_code(published.diagnostics, "invalid-pip-requirement").range) == "poetry=1.2.2"
    assert "did you mean `channels`" in by_code(published.diagnostics, "unknown-key").message


async def test_server_announces_its_features(vscode: EnvClient):
    assert vscode.initialize_result is not None
    caps = vscode.initialize_result.capabilities
    sync = caps.text_document_sync
    assert isinstance(sync, types.TextDocumentSyncOptions)
    assert sync.change == types.TextDocumentSyncKind.Incremental
    assert sync.open_close is True
    assert caps.completion_provider is not None and "-" in (caps.completion_provider.trigger_characters or [])
    assert caps.hover_provider
    assert caps.document_symbol_provider
    assert isinstance(caps.code_action_provider, types.CodeActionOptions)
    assert list(caps.code_action_provider.code_action_kinds or []) == [types.CodeActionKind.QuickFix]
    assert isinstance(caps.diagnostic_provider, types.DiagnosticOptions)
    assert caps.diagnostic_provider.identifier == "envls"


# 2. didChange, didSave, didClose ------------------------------------------------------------

async def test_change_save_and_close_republish(client: EnvClient, tmp_path):
    uri = (tmp_path / "environment.yml").as_uri()
    await _open(client, uri, PROBLEMS)

    # Two range edits in one notification, applied in order: fix `==` on line 4, then
    # insert a comment line at the top (which moves every later finding down a line).
    version = client.change(
        uri,
        types.TextDocumentContentChangePartial(range=span(4, 10, 12), text="="),
        types.TextDocumentContentChangePartial(range=span(0, 0, 0), text="# edited\n"),
    )
    assert version == 2
    changed = await client.wait_for_publish(uri, 2)
    assert "suspicious-spec" not in codes(changed.diagnostics)
    assert by_code(changed.diagnostics, "unknown-key").range == span(2, 0, 7)
    assert by_code(changed.diagnostics, "invalid-pip-requirement").range == span(8, 8, 20)

    before_save = len(client.published)
    client.save(uri)
    saved = await client.wait_for_publish(uri, 2, after=before_save)
    assert _summary(saved.diagnostics) == _summary(changed.diagnostics)

    before_close = len(client.published)
    client.close(uri)
    closed = await client.wait_for_publish(uri, after=before_close)
    assert list(closed.diagnostics) == []
    await asyncio.sleep(0.2)
    assert list(client.publications(uri)[-1].diagnostics) == []


async def test_close_right_after_a_change_leaves_no_diagnostics(vscode: EnvClient, tmp_path):
    uri = (tmp_path / "environment.yml").as_uri()
    vscode.open(uri, PROBLEMS)
    vscode.change(uri, types.TextDocumentContentChangePartial(range=span(0, 6, 10), text="demo"))
    vscode.close(uri)
    await vscode.wait_for_publish(uri, predicate=lambda p: not p.diagnostics)
    await asyncio.sleep(0.3)
    assert list(vscode.publications(uri)[-1].diagnostics) == []


# 3. A burst of changes ------------------------------------------------------------------------

async def test_burst_of_changes_ends_with_the_last_version(client: EnvClient, tmp_path):
    uri = (tmp_path / "environment.yml").as_uri()
    text = "name: burst\ndependencies:\n  - numpy=1\n  - scipy\n"
    await _open(client, uri, text)

    line = "  - numpy=1"
    for i in range(200):
        # Rewrite the spec on line 2 with a range edit: `numpy==1.<i>` is an exact pin (suspicious-spec).
        new_line = f"  - numpy==1.{i}"
        version = client.change(uri, types.TextDocumentContentChangePartial(range=span(2, 0, len(line)), text=new_line))
        line = new_line
    assert version == 201

    final = await client.wait_for_publish(uri, 201, timeout=20)
    await asyncio.sleep(0.5)
    publications = client.publications(uri)
    later = publications[publications.index(final) + 1:]
    assert [p.version for p in later if p.version != 201] == [], "an older version was published after the last"
    versions = [p.version if p.version is not None else -1 for p in publications]
    assert versions == sorted(versions), f"publications out of order: {versions}"
    last = publications[-1]
    diagnostic = by_code(last.diagnostics, "suspicious-spec")
    assert codes(last.diagnostics) == ["suspicious-spec"]
    assert "`==1.199`" in diagnostic.message
    assert diagnostic.range == span(2, 4, len("  - numpy==1.199"))


# 4. Pull diagnostics ----------------------------------------------------------------------------

async def test_pull_diagnostics_report_and_no_push(pull_client: EnvClient, tmp_path):
    client = pull_client
    uri = (tmp_path / "environment.yml").as_uri()
    client.open(uri, PROBLEMS)
    identifier = types.TextDocumentIdentifier(uri=uri)

    report = await client.ask(client.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(text_document=identifier, identifier="envls")))
    assert isinstance(report, types.RelatedFullDocumentDiagnosticReport)
    assert _summary(report.items) == EXPECTED_PROBLEMS
    assert all(d.source == "envls" for d in report.items)
    assert report.result_id

    again = await client.ask(client.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(text_document=identifier, identifier="envls",
                                       previous_result_id=report.result_id)))
    assert isinstance(again, types.RelatedUnchangedDocumentDiagnosticReport)
    assert again.result_id == report.result_id

    client.change(uri, types.TextDocumentContentChangePartial(range=span(4, 10, 12), text="="))
    changed = await client.ask(client.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(text_document=identifier, identifier="envls",
                                       previous_result_id=report.result_id)))
    assert isinstance(changed, types.RelatedFullDocumentDiagnosticReport)
    assert "suspicious-spec" not in codes(changed.items)
    assert changed.result_id != report.result_id

    client.save(uri)
    client.close(uri)
    await asyncio.sleep(0.5)
    assert client.published == [], "a client that pulls diagnostics must not get them pushed"


# 5. UTF-16 positions -----------------------------------------------------------------------------

async def _current_diagnostics(client: EnvClient, uri: str) -> list[types.Diagnostic]:
    """The diagnostics of version 1, pulled if the client announced pull diagnostics, else as pushed."""
    caps = client.capabilities
    if caps is not None and caps.text_document is not None and caps.text_document.diagnostic is not None:
        report = await client.ask(client.text_document_diagnostic_async(
            types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))))
        assert isinstance(report, types.RelatedFullDocumentDiagnosticReport)
        return list(report.items)
    return list((await client.wait_for_publish(uri, 1)).diagnostics)


# Neovim 0.11 offers utf-8 first (and pulls diagnostics), Emacs 29 utf-32: pygls takes the client's first choice.
@pytest.mark.parametrize(("profile", "emoji_units"),
                         [(VSCODE, 2), (NEOVIM, 2), ("neovim@v0.11.0", 4), ("emacs@v29.1", 1)],
                         ids=["vscode-utf16", "neovim07-utf16", "neovim011-utf8", "emacs29-utf32"])
async def test_columns_after_an_astral_character(profile, emoji_units, tmp_path):
    text = 'channels: ["😀", "<unknown>"]\ndependencies:\n  - numpy\n'
    uri = (tmp_path / "environment.yml").as_uri()
    async with session(profile, tmp_path) as client:
        client.open(uri, text)
        channel_errors = [d for d in await _current_diagnostics(client, uri) if d.code == "invalid-channel"]
        after = 16 + emoji_units - 1  # `"<unknown>"` starts at code point 16
        assert [d.range for d in channel_errors] == [span(0, 11, 13 + emoji_units), span(0, after, after + 11)]
        assert "<unknown>" in channel_errors[1].message

        # The other direction: a position after the emoji is read in the same units.
        hover = await client.ask(client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=0, character=after + 3))))
        assert hover is not None and hover.range == span(0, after, after + 11)
        assert isinstance(hover.contents, types.MarkupContent) and "<unknown>" in hover.contents.value


# 6. Completion ---------------------------------------------------------------------------------

async def _complete(client: EnvClient, uri: str, line: int, character: int) -> list[types.CompletionItem]:
    result = await client.ask(client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=character))))
    assert result is not None
    return list(result.items if isinstance(result, types.CompletionList) else result)


async def test_completion_of_top_level_keys(client: EnvClient, tmp_path):
    uri = (tmp_path / "environment.yml").as_uri()
    text = "# a new environment\n\nnotes: [unclosed\n"
    assert "yaml-syntax" in codes((await _open(client, uri, text)).diagnostics)
    items = await _complete(client, uri, 1, 0)
    by_label = {item.label: item for item in items}
    assert {"name", "channels", "dependencies", "variables", "platforms"} <= set(by_label)
    for label in ("name", "channels", "dependencies", "variables", "platforms"):
        item = by_label[label]
        assert item.kind == types.CompletionItemKind.Property
        assert isinstance(item.documentation, types.MarkupContent) and item.documentation.value
        assert isinstance(item.text_edit, types.TextEdit) and item.text_edit.range == span(1, 0, 0)
    snippets = client.capabilities.text_document.completion.completion_item.snippet_support  # type: ignore[union-attr]
    channels = by_label["channels"]
    assert isinstance(channels.text_edit, types.TextEdit)
    if snippets:
        assert channels.insert_text_format == types.InsertTextFormat.Snippet
        assert channels.text_edit.new_text == "channels:\n  - $0"
    else:
        assert channels.insert_text_format in (None, types.InsertTextFormat.PlainText)
        assert channels.text_edit.new_text == "channels:\n  - "


async def test_completion_of_channels_in_a_broken_file(client: EnvClient, tmp_path):
    uri = (tmp_path / "environment.yml").as_uri()
    text = "name: demo\nchannels:\n  - conda-forge\n  - bio\ndependencies:\n  - numpy\n  - [unclosed\n"
    published = await _open(client, uri, text)
    assert "yaml-syntax" in codes(published.diagnostics)

    items = await _complete(client, uri, 3, 7)
    labels = [item.label for item in items]
    assert "bioconda" in labels and "nodefaults" in labels
    assert "conda-forge" not in labels, "a channel already listed is offered again"
    bioconda = next(item for item in items if item.label == "bioconda")
    assert bioconda.text_edit == types.TextEdit(range=span(3, 4, 7), new_text="bioconda")

    empty = "name: demo\nchannels:\n  - \ndependencies: [numpy,\n"
    client.replace_all(uri, empty)
    assert "conda-forge" in [item.label for item in await _complete(client, uri, 2, 4)]


# 7. Hover ---------------------------------------------------------------------------------------

async def test_hover_on_key_and_spec(client: EnvClient, tmp_path):
    uri = (tmp_path / "environment.yml").as_uri()
    text = "name: demo\nchannels:\n  - conda-forge\ndependencies:\n  - numpy>=1.21,<2\n"
    client.open(uri, text)
    document = types.TextDocumentIdentifier(uri=uri)

    key = await client.ask(client.text_document_hover_async(
        types.HoverParams(text_document=document, position=types.Position(line=1, character=3))))
    assert key is not None and isinstance(key.contents, types.MarkupContent)
    assert key.contents.kind == types.MarkupKind.Markdown
    assert key.contents.value.startswith("**Channels** (`channels`)")
    assert "in the order listed" in key.contents.value
    assert key.range == span(1, 0, 8)

    spec = await client.ask(client.text_document_hover_async(
        types.HoverParams(text_document=document, position=types.Position(line=4, character=6))))
    assert spec is not None and isinstance(spec.contents, types.MarkupContent)
    assert "**numpy**" in spec.contents.value
    assert "at least `1.21`" in spec.contents.value and "older than `2`" in spec.contents.value
    assert spec.range == range_of(text, "numpy>=1.21,<2")

    for position in (types.Position(line=0, character=8), types.Position(line=99, character=99)):
        nothing = await client.ask(client.text_document_hover_async(
            types.HoverParams(text_document=document, position=position)))
        assert nothing is None


# 8. Code actions --------------------------------------------------------------------------------

async def _fix(client: EnvClient, uri: str, text: str, diagnostic: types.Diagnostic, title: str) -> str:
    """Ask for the code actions at ``diagnostic``, apply the one titled ``title`` and return the new text."""
    actions = await client.ask(client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=diagnostic.range,
        context=types.CodeActionContext(diagnostics=[diagnostic]))))
    assert actions is not None
    titles = [a.title for a in actions if isinstance(a, types.CodeAction)]
    chosen = [a for a in actions if isinstance(a, types.CodeAction) and a.title == title]
    assert chosen, f"no action {title!r} among {titles}"
    action = chosen[0]
    assert action.kind == types.CodeActionKind.QuickFix
    assert action.diagnostics and action.diagnostics[0].code == diagnostic.code
    new_text = apply_edits(text, edits_of(action.edit, uri))
    yaml.safe_load(new_text)  # the fixed file still parses
    return new_text


async def _send(client: EnvClient, uri: str, text: str) -> types.PublishDiagnosticsParams:
    version = client.replace_all(uri, text)
    return await client.wait_for_publish(uri, version)


async def test_fix_pip_not_listed_adds_pip(client: EnvClient, tmp_path):
    uri = (tmp_path / "environment.yml").as_uri()
    published = await _open(client, uri, PROBLEMS)
    fixed = await _fix(client, uri, PROBLEMS, by_code(published.diagnostics, "pip-not-listed"),
                       "Add `pip` to the dependencies")
    assert "\n  - pip\n  - pip:\n" in fixed
    assert "pip" in yaml.safe_load(fixed)["dependencies"]
    after = await _send(client, uri, fixed)
    assert "pip-not-listed" not in codes(after.diagnostics)


async def test_crlf_file_ranges_and_fix(vscode: EnvClient, tmp_path):
    uri = (tmp_path / "environment.yml").as_uri()
    text = PROBLEMS.replace("\n", "\r\n")
    published = await _open(vscode, uri, text)
    assert _summary(published.diagnostics) == EXPECTED_PROBLEMS
    fixed = await _fix(vscode, uri, text, by_code(published.diagnostics, "pip-not-listed"),
                       "Add `pip` to the dependencies")
    assert "\r\n  - pip\r\n  - pip:\r\n" in fixed
    assert "\n" not in fixed.replace("\r\n", "")
    assert "pip-not-listed" not in codes((await _send(vscode, uri, fixed)).diagnostics)


@pytest.mark.parametrize(("code", "title", "before", "after"), [
    ("unknown-key", "Rename to `channels`", "chanels:", "channels:"),
    ("suspicious-spec", "Change `==3.9` to `=3.9`", "  - python==3.9\n", "  - python=3.9\n"),
    ("invalid-pip-requirement", "Write `poetry==1.2.2`", "- poetry=1.2.2\n", "- poetry==1.2.2\n"),
])
async def test_quick_fixes_on_problems(vscode: EnvClient, tmp_path, code, title, before, after):
    uri = (tmp_path / "environment.yml").as_uri()
    published = await _open(vscode, uri, PROBLEMS)
    fixed = await _fix(vscode, uri, PROBLEMS, by_code(published.diagnostics, code), title)
    assert fixed == PROBLEMS.replace(before, after, 1)
    republished = await _send(vscode, uri, fixed)
    assert code not in codes(republished.diagnostics)


async def test_fix_removes_prefix_line(vscode: EnvClient, tmp_path):
    uri = (tmp_path / "environment.yml").as_uri()
    published = await _open(vscode, uri, EXPORTED)
    fixed = await _fix(vscode, uri, EXPORTED, by_code(published.diagnostics, "machine-prefix"), "Remove `prefix`")
    assert fixed == EXPORTED.replace("prefix: /home/me/miniconda3/envs/exported\n", "")
    republished = await _send(vscode, uri, fixed)
    assert "machine-prefix" not in codes(republished.diagnostics)


async def test_fix_removes_all_build_strings(vscode: EnvClient, tmp_path):
    uri = (tmp_path / "environment.yml").as_uri()
    published = await _open(vscode, uri, EXPORTED)
    pinned = [d for d in published.diagnostics if d.code == "pinned-build"]
    assert len(pinned) == 3
    assert all(d.severity == types.DiagnosticSeverity.Information for d in pinned)
    fixed = await _fix(vscode, uri, EXPORTED, pinned[1], "Remove all build strings (as `conda env export --no-builds`)")
    assert yaml.safe_load(fixed)["dependencies"][:3] == ["numpy=1.21.2", "python=3.8.12", "pip=21.2.4"]
    republished = await _send(vscode, uri, fixed)
    assert "pinned-build" not in codes(republished.diagnostics)


async def test_code_actions_respect_only(vscode: EnvClient, tmp_path):
    uri = (tmp_path / "environment.yml").as_uri()
    published = await _open(vscode, uri, PROBLEMS)
    diagnostic = by_code(published.diagnostics, "unknown-key")
    actions = await vscode.ask(vscode.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=diagnostic.range,
        context=types.CodeActionContext(diagnostics=[diagnostic], only=[types.CodeActionKind.Refactor]))))
    assert not actions



# Quick fixes on items of flow collections (`[a, b]`): the result must parse and keep the other items.
@pytest.mark.parametrize(("text", "code", "title", "expected"), [
    pytest.param('channels: [conda-forge, "<unknown>"]\ndependencies: [numpy]\n', "invalid-channel",
                 "Remove channel `<unknown>`", {"channels": ["conda-forge"], "dependencies": ["numpy"]}, id="remove-channel"),
    pytest.param("dependencies: [numpy, numpy]\n", "duplicate-package", "Remove this `numpy` line",
                 {"dependencies": ["numpy"]}, id="remove-duplicate"),
    pytest.param("dependencies: [numpy, {pip: [requests]}]\n", "pip-not-listed", "Add `pip` to the dependencies",
                 {"dependencies": ["numpy", "pip", {"pip": ["requests"]}]},
                 id="add-pip"),
])
async def test_quick_fixes_in_flow_collections(vscode: EnvClient, tmp_path, text, code, title, expected):
    uri = (tmp_path / "environment.yml").as_uri()
    published = await _open(vscode, uri, text)
    fixed = await _fix(vscode, uri, text, by_code(published.diagnostics, code), title)
    assert yaml.safe_load(fixed) == expected


# 9. Document symbols -------------------------------------------------------------------------------

async def test_document_symbols_outline(vscode: EnvClient, tmp_path):
    uri = (tmp_path / "environment.yml").as_uri()
    vscode.open(uri, OUTLINE)
    symbols = await vscode.ask(vscode.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri))))
    assert symbols is not None and all(isinstance(s, types.DocumentSymbol) for s in symbols)
    top = {s.name: s for s in symbols if isinstance(s, types.DocumentSymbol)}
    assert list(top) == ["name", "channels", "dependencies", "variables"]
    assert all(s.kind == types.SymbolKind.Key for s in top.values())
    assert top["name"].detail == "demo"
    assert top["name"].selection_range == span(0, 0, 4)

    assert [c.name for c in top["channels"].children or []] == ["conda-forge"]
    dependencies = top["dependencies"].children or []
    assert [(c.name, c.kind) for c in dependencies] == [
        ("numpy", types.SymbolKind.Package), ("pip", types.SymbolKind.Package), ("pip", types.SymbolKind.Key)]
    assert dependencies[0].range == range_of(OUTLINE, "numpy>=1.21")
    assert dependencies[0].detail == "numpy>=1.21"
    pip_lines = dependencies[2].children or []
    assert [(c.name, c.kind) for c in pip_lines] == [("requests", types.SymbolKind.Module),
                                                      ("-e .", types.SymbolKind.Module)]
    assert pip_lines[0].range == range_of(OUTLINE, "requests==2.31")
    assert [c.name for c in top["variables"].children or []] == ["OMP_NUM_THREADS"]
    # Every child lies inside its parent's range.
    for parent in top.values():
        for child in parent.children or []:
            assert (parent.range.start.line, parent.range.start.character) <= \
                (child.range.start.line, child.range.start.character)
            assert (child.range.end.line, child.range.end.character) <= \
                (parent.range.end.line, parent.range.end.character)


# 10. Suppression comments ---------------------------------------------------------------------------

async def test_disable_comment_silences_its_line_only(vscode: EnvClient, tmp_path):
    uri = (tmp_path / "environment.yml").as_uri()
    text = "dependencies:\n  - python==3.9  # envls: disable=suspicious-spec\n  - scipy==1.7\nname: t\n"
    published = await _open(vscode, uri, text)
    assert _summary(published.diagnostics) == [
        ("suspicious-spec", types.DiagnosticSeverity.Warning, range_of(text, "scipy==1.7"))]


async def test_disable_file_comment_silences_the_whole_file(vscode: EnvClient, tmp_path):
    uri = (tmp_path / "environment.yml").as_uri()
    text = "# envls: disable-file=pinned-build\n" + EXPORTED
    published = await _open(vscode, uri, text)
    assert codes(published.diagnostics) == ["machine-prefix"]


# 11. Settings -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("profile", PROFILES)
async def test_initialization_options_disable_a_code(profile, tmp_path):
    uri = (tmp_path / "environment.yml").as_uri()
    async with session(profile, tmp_path, initialization_options={"disable": ["pip-not-listed"]}) as client:
        published = await _open(client, uri, PROBLEMS)
        assert _summary(published.diagnostics) == [e for e in EXPECTED_PROBLEMS if e[0] != "pip-not-listed"]
        assert client.messages == []


async def test_bad_setting_is_shown_and_defaults_stay(tmp_path):
    uri = (tmp_path / "environment.yml").as_uri()
    async with session(VSCODE, tmp_path, initialization_options={"disable": 5}) as client:
        published = await _open(client, uri, PROBLEMS)
        assert _summary(published.diagnostics) == EXPECTED_PROBLEMS
        warnings = [m for m in client.messages if m.type == types.MessageType.Warning]
        assert len(warnings) == 1 and "envls.disable" in warnings[0].message
        assert client.server_alive()


async def test_settings_from_workspace_configuration_and_did_change(tmp_path):
    uri = (tmp_path / "environment.yml").as_uri()
    async with session(VSCODE, tmp_path, configuration={"envls": {"disable": ["unknown-key"]}}) as client:
        client.open(uri, PROBLEMS)
        # The configuration is pulled after `initialized`; the first publication may predate it.
        await client.wait_for_publish(uri, 1, predicate=lambda p: "unknown-key" not in codes(p.diagnostics))

        before = len(client.published)
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
            settings={"envls": {"disable": ["invalid-env-name"]}}))
        republished = await client.wait_for_publish(uri, 1, after=before)
        assert "invalid-env-name" not in codes(republished.diagnostics)
        assert "unknown-key" in codes(republished.diagnostics)


# 12. Bad input ------------------------------------------------------------------------------------------

def _binary_junk() -> str:
    rng = random.Random(20240601)
    return bytes(rng.randrange(256) for _ in range(4000)).decode("latin-1")


def _alias_bomb() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
        previous = name
    return "\n".join(lines) + "\ndependencies:\n  - *i\n"


_LONG_NAME = "a" * 2_000_000
_NOT_YAML_PRINTABLE = re.compile(r"[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# name -> (text, code expected, where: a text fragment the diagnostic must cover or the line it must start on)
BAD_INPUTS = {
    "binary-junk": (_binary_junk(), "yaml-syntax", None),
    "nul-bytes": ("name: x\x00y\ndependencies:\n  - numpy\x00\n", "yaml-syntax", span(0, 7, 8)),
    "alias-bomb": (_alias_bomb(), "schema", None),
    "deep-nesting": ("name: deep\ndependencies:\n  - " + "[" * 9000 + "\n", "yaml-syntax", 2),
    "20000-brackets": ("name: deep\ndependencies:\n  - " + "[" * 20000 + "\n", "line-too-long", 2),
    "tab-indentation": ("dependencies:\n\t- numpy\n\t- python==3.9\n", "yaml-syntax", span(1, 0, 1)),
    "60000-dependencies": ("dependencies:\n" + "".join(f"  - pkg{i}\n" for i in range(60_000)) + "  - python==3.9\n",
                           "suspicious-spec", span(60_001, 4, 15)),
    "2mb-line": ('channels: ["' + _LONG_NAME + '", "<unknown>"]\ndependencies:\n  - numpy\n', "line-too-long", 0),
    "python-tag": ('dependencies:\n  - !!python/object/apply:os.system ["touch {marker}"]\n', "yaml-syntax", 1),
    "utf8-bom": ("\ufeffname: base\ndependencies:\n  - numpy\n", "invalid-env-name", span(0, 7, 11)),
    "wrong-types": ("channels: [1, {a: b}]\nname: 3\ndependencies:\n  - numpy\n", "schema", "{a: b}"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
async def test_bad_input_is_reported_and_the_server_survives(vscode: EnvClient, tmp_path, case):
    text, code, where = BAD_INPUTS[case]
    marker = tmp_path / "executed"
    text = text.replace("{marker}", str(marker))
    uri = (tmp_path / "environment.yml").as_uri()
    vscode.open(uri, text)
    published = await vscode.wait_for_publish(uri, 1, timeout=60)  # bounded; generous for loaded CI machines

    found = [d for d in published.diagnostics if d.code == code]
    assert found, f"no {code} among {_summary(published.diagnostics)}"
    lines = len(line_starts(text))
    for diagnostic in published.diagnostics:
        assert 0 <= diagnostic.range.start.line < lines and diagnostic.range.start <= diagnostic.range.end
    if isinstance(where, types.Range):
        assert any(d.range == where for d in found), _summary(found)
    elif isinstance(where, int):
        assert any(d.range.start.line == where for d in found), _summary(found)
    elif isinstance(where, str):
        assert any(d.range == range_of(text, where) for d in found), _summary(found)

    if case == "binary-junk":
        assert "unacceptable character" in found[0].message
    if case == "alias-bomb":
        assert "aliases" in found[0].message
        alias_lines = {i for i, line in enumerate(text.splitlines()) if "&" in line or "*" in line}
        assert found[0].range.start.line in alias_lines
    if case == "python-tag":
        assert "unsupported YAML tag" in found[0].message
        assert not marker.exists(), "the !!python tag was executed"
    if case == "tab-indentation":
        assert "tabs" in found[0].message

    # The server still answers requests on the document, quickly.
    document = types.TextDocumentIdentifier(uri=uri)
    await vscode.ask(vscode.text_document_hover_async(
        types.HoverParams(text_document=document, position=types.Position(line=0, character=1))))
    await vscode.ask(vscode.text_document_completion_async(
        types.CompletionParams(text_document=document, position=types.Position(line=0, character=0))))
    await vscode.ask(vscode.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=document)))
    assert vscode.server_alive()
    assert not marker.exists()


@pytest.mark.parametrize("text", ["name: é\x00\ndependencies:\n  - numpy\n", _binary_junk()], ids=["nul", "junk"])
async def test_unacceptable_character_is_blamed_where_it_is(vscode: EnvClient, tmp_path, text):
    uri = (tmp_path / "environment.yml").as_uri()
    published = await _open(vscode, uri, text)
    diagnostic = next(d for d in published.diagnostics if d.code == "yaml-syntax")
    bad = _NOT_YAML_PRINTABLE.search(text)
    assert bad is not None
    assert f"#x{ord(bad.group()):04x}" in diagnostic.message
    assert text_at(text, diagnostic.range) == bad.group()


# 13. Files that are not environment files ----------------------------------------------------------------

async def test_non_environment_yaml_gets_no_diagnostics(vscode: EnvClient, tmp_path):
    workflow = (tmp_path / ".github" / "workflows" / "ci.yml").as_uri()
    vscode.open(workflow, CI_WORKFLOW)
    # An environment file opened afterwards is a barrier: once it is published, the
    # workflow has been looked at (its check needs no analysis).
    environment = (tmp_path / "environment.yml").as_uri()
    await _open(vscode, environment, PROBLEMS)
    await asyncio.sleep(0.2)
    assert all(not p.diagnostics for p in vscode.publications(workflow))


async def test_file_that_stops_being_an_environment_file_is_cleared(vscode: EnvClient, tmp_path):
    uri = (tmp_path / "tools.yml").as_uri()  # not an environment name: recognised by its content
    published = await _open(vscode, uri, "dependencies:\n  - python==3.9\nname: t\n")
    assert codes(published.diagnostics) == ["suspicious-spec"]
    version = vscode.replace_all(uri, "tools:\n  - python==3.9\n")
    cleared = await vscode.wait_for_publish(uri, version, timeout=3)
    assert not cleared.diagnostics


async def test_request_for_a_document_that_is_not_open(vscode: EnvClient, tmp_path):
    uri = (tmp_path / "environment-gone.yml").as_uri()
    hover = await vscode.ask(vscode.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=0, character=0))))
    assert hover is None
