"""What the command prints of each thing that arrives: a JSON object (``--json``) and a text.

One ``report_*`` function per kind of entry, each returning a :data:`Report`.
"""

from __future__ import annotations

import base64
from typing import Any

from .. import ConnectionRecord, Request, ResponseRecord, SMTPMessage, SyslogMessage
from ..fakes import PyPIDownload, PyPIUpload

__all__ = [
    "Report",
    "format_message",
    "format_syslog",
    "report_connection",
    "report_download",
    "report_message",
    "report_request",
    "report_syslog",
    "report_upload",
]

#: A report of one thing that arrived: the JSON object ``--json`` prints, and the text printed
#: without it.
Report = tuple[dict[str, Any], str]


def _address(peer: Any) -> str | None:
    if isinstance(peer, tuple) and len(peer) >= 2:
        host = f"[{peer[0]}]" if ":" in str(peer[0]) else str(peer[0])
        return f"{host}:{peer[1]}"
    return None if peer is None or peer == "" else str(peer)


def _content(name: str, data: bytes) -> dict[str, Any]:
    """``data`` as JSON: text under ``name`` when it is UTF-8, else base64 under ``name_base64``."""
    try:
        return {name: data.decode("utf-8")}
    except UnicodeDecodeError:
        return {f"{name}_base64": base64.b64encode(data).decode("ascii")}


def _shown(data: bytes, limit: int = 200) -> str:
    return repr(data[:limit]) + ("..." if len(data) > limit else "")


def report_request(request: Request) -> Report:
    """An HTTP request and what it was answered with, as the command reports it.

    The command reports a request once it is answered (``response`` holds the status code,
    reason and header fields sent, and what answered), or, when the command stops, with
    ``"response": null`` if it never was (its client went away first, or a fault cut it off).
    """
    response = request.response
    event: dict[str, Any] = {
        "event": "request",
        "method": request.method,
        "target": request.target,
        "http_version": request.http_version,
        "peer": _address(request.peer),
        "headers": [list(pair) for pair in request.headers.multi_items()],
        **_content("body", request.body),
        "size": len(request.body),
        "received_at": request.received_at,
        "response": None if response is None else _response(response),
    }
    text = f"{_address(request.peer)} {request.method} {request.target} ({len(request.body)} bytes)"
    if request.error is not None:
        event["error"] = request.error
        text += f": {request.error}"
    return event, f"{text} -> {_answered(response)}"


def _response(response: ResponseRecord) -> dict[str, Any]:
    return {
        "status_code": response.status_code,
        "reason": response.reason,
        "headers": [list(pair) for pair in response.headers.multi_items()],
        "answered_by": response.answered_by,
        "detail": response.detail,
        "fault": None if response.fault is None else response.fault.name,
    }


def _answered(response: ResponseRecord | None) -> str:
    if response is None:
        return "(no response)"
    if response.fault is not None:
        return f"(fault {response.fault.name})"
    return f"{response.status_code} {response.reason}".rstrip()


def report_message(message: SMTPMessage) -> Report:
    """An SMTP message as the command reports it."""
    email = message.email
    event: dict[str, Any] = {
        "event": "message",
        "mail_from": message.mail_from,
        "rcpt_tos": list(message.rcpt_tos),
        "peer": _address(message.peer),
        "helo": message.helo,
        "login": message.login,
        "smtputf8": message.smtputf8,
        "headers": [[name, str(value)] for name, value in email.items()],
        "text": message.text,
        "html": message.html,
        "attachments": [
            {
                "filename": part.get_filename(),
                "content_type": part.get_content_type(),
                "size": len(part.get_payload(decode=True) or b""),
            }
            for part in message.attachments
        ],
        "size": len(message.data),
        "received_at": message.received_at,
        "error": message.error,
    }
    return event, format_message(message)


def format_message(message: SMTPMessage, *, body_lines: int = 10) -> str:
    """A message as the command prints it: envelope, header fields, the start of the body."""
    lines = [
        "---------- MESSAGE FOLLOWS ----------",
        f"mail from: {message.mail_from}",
        f"rcpt to: {', '.join(message.rcpt_tos)}",
    ]
    if message.peer is not None:
        lines.append(f"peer: {message.peer[0]}:{message.peer[1]}")
    if message.login is not None:
        lines.append(f"login: {message.login}")
    if message.error is not None:
        lines.append(f"refused: {message.error}")
    lines.append("")
    lines += [f"{name}: {value}" for name, value in message.email.items()]
    lines.append("")
    text = message.text or message.html
    body = text.splitlines()
    lines += body[:body_lines]
    if len(body) > body_lines:
        lines.append(f"... ({len(body) - body_lines} more lines)")
    for part in message.attachments:
        size = len(part.get_payload(decode=True) or b"")
        lines.append(
            f"[attachment {part.get_filename() or '(no name)'}: {part.get_content_type()}, "
            f"{size} bytes]"
        )
    lines.append(f"({len(message.data)} bytes)")
    lines.append("------------ END MESSAGE ------------")
    return "\n".join(lines)


def report_syslog(message: SyslogMessage) -> Report:
    """A syslog message as the command reports it: facility and severity by name."""
    event: dict[str, Any] = {
        "event": "message",
        "facility": message.facility_name,
        "severity": message.severity_name,
        "timestamp": None if message.timestamp is None else message.timestamp.isoformat(),
        "hostname": message.hostname,
        "app_name": message.app_name,
        "procid": message.procid,
        "msgid": message.msgid,
        "structured_data": {
            sd_id: dict(params) for sd_id, params in message.structured_data.items()
        },
        "msg": message.msg,
        "peer": _address(message.peer),
        "transport": message.transport,
        "received_at": message.received_at,
        "error": message.error,
    }
    if message.error is not None:
        event.update(_content("raw", message.raw))
    return event, format_syslog(message)


def format_syslog(message: SyslogMessage) -> str:
    """One line per message: facility.severity by name (RFC 5424 §6.2.1), timestamp, host,
    app[procid], the text."""
    if message.error is not None:
        return f"(not syslog: {message.error}) {message.raw!r}"
    parts = [
        f"<{message.facility_name}.{message.severity_name}>",
        message.timestamp.isoformat() if message.timestamp is not None else "-",
        message.hostname or "-",
        f"{message.app_name or '-'}[{message.procid or '-'}]:",
        message.msg or "",
    ]
    return " ".join(parts)


def report_connection(record: ConnectionRecord) -> Report:
    """A TCP connection, once closed, as the command reports it: every byte it sent."""
    data = record.data
    event = {
        "event": "connection",
        "peer": _address(record.peer),
        "opened_at": record.opened_at,
        "closed_at": record.closed_at,
        **_content("data", data),
        "size": len(data),
    }
    return event, f"connection from {_address(record.peer)}: {len(data)} bytes {_shown(data)}"


def report_upload(upload: PyPIUpload) -> Report:
    """An upload the fake PyPI accepted, as the command reports it."""
    event = {
        "event": "upload",
        "project": upload.project,
        "version": upload.version,
        "filename": upload.filename,
        "filetype": upload.filetype,
        "size": upload.size,
        "sha256": upload.sha256,
        "uploader": upload.uploader,
    }
    by = f" by {upload.uploader}" if upload.uploader is not None else ""
    text = (
        f"upload: {upload.project} {upload.version} {upload.filename} "
        f"({upload.filetype}, {upload.size} bytes){by}"
    )
    return event, text


def report_download(download: PyPIDownload) -> Report:
    """A distribution file the fake PyPI served, as the command reports it."""
    event = {
        "event": "download",
        "project": download.project,
        "version": download.version,
        "filename": download.filename,
        "user_agent": download.user_agent,
    }
    agent = download.user_agent.split(" ", 1)[0] or "(no User-Agent)"
    return event, f"download: {download.filename} by {agent}"
