"""Stands in for the real ``rfc3987_syntax`` in the processes the tests start (tests/conftest.py
puts this directory first on their ``PYTHONPATH``): importing it fails, as if it were not
installed.

jsonschema imports ``rfc3987_syntax``, when it is installed, to check the ``iri`` format, and
that import builds 38 parsers: about 1.7 s of CPU in every process that imports jsonschema.
ipykernel does, so every notebook kernel the tests start would pay it (nbval's, JupyterLab's),
as would the xdist workers. No schema of this project uses the ``iri`` formats, and the
report's own kernels leave the module out in production too (scalingo_audit/kernel.py).
"""

raise ImportError("rfc3987_syntax is left out of the test processes (tests/blocked)")
