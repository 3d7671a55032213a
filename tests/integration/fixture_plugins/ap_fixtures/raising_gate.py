"""A plugin whose gate raises while evaluating."""

from autopilot import Gate, hookimpl


class ExplodingGate(Gate):
    name = "exploding"

    def evaluate(self, batch, context):
        raise ZeroDivisionError("the plugin divided by zero")


@hookimpl
def autopilot_register_gates():
    return [ExplodingGate]
