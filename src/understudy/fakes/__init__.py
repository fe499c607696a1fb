"""Servers that imitate a real service's API, for testing the clients of that service.

``PyPIServer`` is a fake PyPI: twine uploads to it, pip installs from it::

    from understudy.fakes import PyPIServer

    with PyPIServer(users={"ada": "s3cret"}) as pypi:
        # twine upload --repository-url {pypi.upload_url} -u ada -p s3cret dist/*
        # pip install --index-url {pypi.index_url} my-package
        [upload] = pypi.wait_for_uploads(1)
"""

from .._publishing import publish
from ._pypi._records import PyPIDownload, PyPIFile, PyPIUpload
from ._pypi._server import PyPIServer

__all__ = ["PyPIDownload", "PyPIFile", "PyPIServer", "PyPIUpload"]


def _fixup_module_metadata() -> None:
    # Public objects say `understudy.fakes.X` in reprs and tracebacks, not the private module;
    # and those of `understudy` that the fake's modules loaded say `understudy.X`.
    publish()
    for name in __all__:
        obj = globals()[name]
        if getattr(obj, "__module__", "").startswith("understudy.fakes."):
            obj.__module__ = __name__


_fixup_module_metadata()
