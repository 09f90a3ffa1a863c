"""Bulk: upload a stock or price file, see the same dry-run diff and row errors as
`hub stock import` / `hub price import`, then apply it (:mod:`hub.bulk.imports`), and
push it at once if asked (as ``--apply --push``). The CLI's options are offered too:
``--force`` (price files) and ``--create-warehouses`` (stock files); they are chosen with
the upload, so what is applied is what the dry run showed."""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
from pathlib import Path

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.bulk.imports import KINDS, run_import
from hub.bulk.kind import ImportOptions, ImportResult
from hub.bulk.spreadsheet import CSV_SUFFIXES, XLSX_SUFFIXES
from hub.console.auth import action, hub, signed_in
from hub.console.templating import flash, render
from hub.core import engine
from hub.errors import HubError

MAX_BYTES = 50 * 1024 * 1024
KEEP = 5  # checked uploads a session keeps for applying
SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff]+")


def _uploads(request: Request) -> Path:
    folder = request.app.state.upload_dir
    if folder is None:
        folder = request.app.state.upload_dir = Path(tempfile.mkdtemp(prefix="hub-console-"))
    return Path(folder)


#: the CLI options a file may be checked and applied with, by kind (form field -> option)
OPTIONS = {"prices": ("force",), "stock": ("create_warehouses",)}


def _run(
    request: Request,
    path: Path,
    kind: str,
    *,
    apply: bool,
    partial: bool,
    actor: str,
    flags: dict[str, bool],
    push: bool = False,
) -> ImportResult:
    app = hub(request)
    limit = app.settings.price_change_limit
    options = ImportOptions(
        apply=apply,
        partial=partial,
        price_change_limit=limit,
        actor=actor,
        show=200,
        collect_shops=push,
        **flags,
    )
    return run_import(app.db, path, kind, options, now=app.clock.now)


async def page(request: Request) -> Response:
    await signed_in(request)
    return render(request, "bulk.html", kinds=list(KINDS))


async def check(request: Request) -> Response:
    """Store the upload and show its dry run."""
    user, form = await action(request)
    kind = str(form.get("kind", ""))
    upload = form.get("file")
    if kind not in KINDS or upload is None or isinstance(upload, str) or not upload.filename:
        flash(request, "choose the kind of file and a file to upload", "error")
        return render(request, "bulk.html", 400, kinds=list(KINDS))
    name = SAFE_NAME.sub("_", Path(upload.filename).name)[-100:]
    if not name.lower().endswith(CSV_SUFFIXES + XLSX_SUFFIXES):
        return render(request, "bulk.html", 400, kinds=list(KINDS), error=f"{name}: use a .csv or .xlsx file")
    token = secrets.token_urlsafe(16)
    folder = _uploads(request) / token
    folder.mkdir(mode=0o700)
    path = folder / name
    data = await upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        shutil.rmtree(folder)
        return render(request, "bulk.html", 413, kinds=list(KINDS), error=f"{name}: larger than 50 MB")
    path.write_bytes(data)
    flags = {option: form.get(option) == "on" for option in OPTIONS[kind]}
    try:
        result = await _in_thread(
            request, path, kind, apply=False, partial=False, actor=user.name, flags=flags
        )
    except HubError as exc:
        shutil.rmtree(folder)
        return render(request, "bulk.html", 400, kinds=list(KINDS), error=str(exc))
    uploads = dict(request.session.get("uploads", {}))
    for old in list(uploads)[: max(0, len(uploads) - KEEP + 1)]:  # the cookie stays small
        uploads.pop(old)
        shutil.rmtree(_uploads(request) / old, ignore_errors=True)
    uploads[token] = {"kind": kind, "name": name, "flags": flags}
    request.session["uploads"] = uploads
    return render(request, "bulk.html", kinds=list(KINDS), result=result, token=token, kind=kind, flags=flags)


async def apply(request: Request) -> Response:
    user, form = await action(request)
    token = str(form.get("token", ""))
    upload = request.session.get("uploads", {}).get(token)
    if upload is None:
        flash(request, "that upload is no longer here: upload the file again", "error")
        return render(request, "bulk.html", 400, kinds=list(KINDS))
    folder = _uploads(request) / token
    partial = form.get("partial") == "on"
    push = form.get("push") == "now"
    kind, flags = upload["kind"], upload.get("flags", {})
    try:
        result = await _in_thread(
            request,
            folder / upload["name"],
            kind,
            apply=True,
            partial=partial,
            actor=user.name,
            flags=flags,
            push=push,
        )
    except HubError as exc:
        return render(request, "bulk.html", 400, kinds=list(KINDS), error=str(exc))
    report = None
    if push and result.applied and result.shops:
        app = hub(request)
        report = await engine.push_now(app.runtime(), app.settings, result.shops, kind)
    if result.applied is not None:
        shutil.rmtree(folder, ignore_errors=True)
        uploads = dict(request.session.get("uploads", {}))
        uploads.pop(token, None)
        request.session["uploads"] = uploads
    return render(
        request,
        "bulk.html",
        kinds=list(KINDS),
        result=result,
        kind=kind,
        flags=flags,
        token=None if result.applied is not None else token,
        pushed=push and bool(result.applied),
        report=report,
    )


async def _in_thread(request: Request, path: Path, kind: str, **kw: object) -> ImportResult:
    return await to_thread.run_sync(lambda: _run(request, path, kind, **kw))  # type: ignore[arg-type]


routes = [
    Route("/bulk", page),
    Route("/bulk/check", check, methods=["POST"]),
    Route("/bulk/apply", apply, methods=["POST"]),
]
