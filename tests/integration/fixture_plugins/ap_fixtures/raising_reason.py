"""A plugin whose gate passes everyone but whose reason raises for every other candidate."""

import numpy as np

from autopilot import Gate, GateResult, hookimpl


class RaisingReasonGate(Gate):
    name = "raising_reason"

    def evaluate(self, batch, context):
        n = batch.n_candidates

        def reason(i):
            if i % 2:
                raise ValueError(f"no reason for candidate {i}")
            return "OK"

        return GateResult(np.zeros(n, dtype=np.int8), np.ones(n), reason)  # 0 = PASS


@hookimpl
def autopilot_register_gates():
    return [RaisingReasonGate]
