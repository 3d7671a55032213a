"""A plugin whose gate returns float outcome codes: NaN and 0.9 (both once cast to PASS)."""

import numpy as np

from autopilot import Gate, GateResult, hookimpl


class NanCodesGate(Gate):
    name = "nan_codes"

    def evaluate(self, batch, context):
        n = batch.n_candidates
        codes = np.where(np.arange(n) % 2 == 0, np.nan, 0.9)
        return GateResult(codes, np.ones(n), ["UNSURE"] * n)


@hookimpl
def autopilot_register_gates():
    return [NanCodesGate]
