"""UnixStreamServer and UnixDatagramServer: the socket's path, as given and as bound."""

from __future__ import annotations

import errno
import os
import socket
import sys
import threading
from pathlib import Path

import pytest

from understudy._sockets import UnixDatagramServer, UnixStreamServer

# -- binding: errors that name the path ------------------------------------------------------


@pytest.mark.parametrize("server_class", [UnixStreamServer, UnixDatagramServer])
def test_a_path_too_long_to_bind_is_named_with_what_to_do(
    server_class: type[UnixStreamServer], tmp_path: Path
) -> None:
    path = str(tmp_path / ("s" * 120))
    with pytest.raises(OSError, match="too long") as info:
        server_class(path=path).start()
    assert info.value.errno == errno.ENAMETOOLONG
    assert path in str(info.value)
    assert "gettempdir()" in str(info.value)
    assert "no path=" in str(info.value)


@pytest.mark.parametrize("server_class", [UnixStreamServer, UnixDatagramServer])
def test_a_path_in_a_missing_directory_is_named_with_what_to_do(
    server_class: type[UnixStreamServer], tmp_path: Path
) -> None:
    path = str(tmp_path / "missing" / "s.sock")
    with pytest.raises(FileNotFoundError, match="does not exist") as info:
        server_class(path=path).start()
    assert info.value.errno == errno.ENOENT
    assert path in str(info.value)
    assert "create the directory first" in str(info.value)


# -- the repr of an abstract name ------------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's abstract namespace")
def test_an_abstract_name_is_shown_readably_in_the_repr() -> None:
    name = f"understudy-repr-{os.getpid()}-{threading.get_ident()}"
    with UnixStreamServer(path="\0" + name) as server:
        assert "\0" not in repr(server)
        assert f"@{name}" in repr(server)
        assert server.path == "\0" + name  # (what a client connects to stays the name)


# -- stop(): removing the socket file --------------------------------------------------------


def test_a_relative_path_is_removed_at_stop_after_the_test_changed_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    monkeypatch.chdir(tmp_path / "first")
    server = UnixStreamServer(path="s.sock").start()
    try:
        assert server.path == str(tmp_path / "first" / "s.sock")
        monkeypatch.chdir(tmp_path / "second")
        other = tmp_path / "second" / "s.sock"
        other.write_text("not the server's")
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(server.path)  # (absolute: found from any directory)
    finally:
        server.stop()
    assert not (tmp_path / "first" / "s.sock").exists()
    assert other.read_text() == "not the server's"


def test_stop_leaves_a_file_that_replaced_the_socket(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    server = UnixStreamServer(path=path).start()
    try:
        path.unlink()
        path.write_text("put there since")
    finally:
        server.stop()
    assert path.read_text() == "put there since"


def test_stop_leaves_the_socket_of_another_server_bound_on_the_same_path(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    first = UnixStreamServer(path=path).start()
    try:
        path.unlink()
        with UnixStreamServer(path=path, echo=True) as second:
            first.stop()
            assert path.exists()
            with socket.socket(socket.AF_UNIX) as client:
                client.connect(second.path)
                client.sendall(b"still here")
                assert second.wait_for_bytes(b"still here").data == b"still here"
        assert not path.exists()
    finally:
        first.stop()


def test_a_relative_path_too_long_made_absolute_is_bound_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A short relative ``path=`` in a working directory so deep that the absolute path would not
    fit a socket address (107 bytes) is bound as given; ``stop()`` still removes it."""
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    with UnixStreamServer(path="s.sock", echo=True) as server:
        assert len(os.fsencode(server.path)) > 107
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(5)
            client.connect("s.sock")
            client.sendall(b"ping")
            assert client.recv(4) == b"ping"
    assert not (deep / "s.sock").exists()
