"""Integrations: what does the work of a Task state, found from its ``Resource``.

- `registry`: user handlers, registered with ``@handler("Name")`` (``from orchestrator import
  handler``) in the ``tasks/`` package or the modules named in ORCHESTRATOR_HANDLER_MODULES, found in
  the current directory or on the Python path (``tasks/`` is not installed with the package).
- `invoke`: runs one task request (a handler, or a built-in service integration) and turns the
  outcome into a `Delivery` for the interpreter, the same way for `run_local` and the runtime.
"""
