"""A plugin implementing a hook name that does not exist."""

from autopilot import hookimpl


@hookimpl
def autopilot_register_gate():
    return []
