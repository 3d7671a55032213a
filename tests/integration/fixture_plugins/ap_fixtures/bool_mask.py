"""A plugin whose gate returns a boolean mask ("none passed") instead of outcome codes."""

import numpy as np

from autopilot import Gate, GateResult, hookimpl


class BoolMaskGate(Gate):
    name = "bool_mask"

    def evaluate(self, batch, context):
        n = batch.n_candidates
        # False everywhere means "none passed" to its author; as codes it would read PASS.
        return GateResult(np.zeros(n, dtype=bool), np.ones(n), ["NONE_PASSED"] * n)


@hookimpl
def autopilot_register_gates():
    return [BoolMaskGate]
