"""Test support: tooling the tests use that no deployed or installed package ships.

* :mod:`tests.support.faults` - fault injection into every AWS client of the process, for
  the functional tests through the local stack (docs/RELIABILITY.md);
* :mod:`tests.support.security_review` - the security review of template.yaml and the
  handlers as code (docs/SECURITY.md), also a command:
  ``python -m tests.support.security_review``.

Imported as ``tests.support``: pyproject's ``[tool.pytest.ini_options] pythonpath``
puts the repository's root on ``sys.path`` (``tests`` itself stays a namespace package,
as pytest's rootdir-relative test modules expect).
"""
