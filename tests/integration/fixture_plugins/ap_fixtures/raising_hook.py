"""A plugin whose registration hook raises."""

from autopilot import hookimpl


@hookimpl
def autopilot_register_gates():
    raise RuntimeError("registration failed")
