"""UnixStreamServer and UnixDatagramServer: the socket's path, as given and as bound."""

from __future__ import annotations

import errno
import os
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
