"""A plugin offering a gate whose name the built-in gates already use."""

from autopilot import Gate, hookimpl


class AnotherSharpe(Gate):
    name = "sharpe"

    def evaluate(self, batch, context):
        raise NotImplementedError


@hookimpl
def autopilot_register_gates():
    return [AnotherSharpe]
