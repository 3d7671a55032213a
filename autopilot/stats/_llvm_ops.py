"""LLVM operations numba does not expose: a cache prefetch and NaN-ignoring min/max.

``min``/``max`` written as a comparison lower to a select of the value just loaded, which
LLVM turns into a masked store once it vectorises the loop (slow on many x86 cores).
``llvm.minnum``/``llvm.maxnum`` stay plain vector min/max. Both return the other operand
when one is NaN.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba.core import cgutils, config, types
from numba.extending import intrinsic

_I8_PTR = ir.IntType(8).as_pointer()
_I32 = ir.IntType(32)
_F64 = ir.DoubleType()


def _prefetch(typingctx, array, index):  # pragma: no cover - compiled
    """Hint the CPU to load the cache line holding ``array[index]`` (1-D array)."""
    signature = types.void(array, index)

    def codegen(context, builder, sig, args):
        array_type = sig.args[0]
        data = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(
            context, builder, array_type, data, [args[1]], wraparound=False
        )
        function = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(ir.VoidType(), [_I8_PTR, _I32, _I32, _I32]),
            "llvm.prefetch.p0i8",
        )
        # read access, high temporal locality, data cache
        builder.call(function, [builder.bitcast(pointer, _I8_PTR), _I32(0), _I32(3), _I32(1)])
        return context.get_dummy_value()

    return signature, codegen


def _float_binary(name: str) -> Any:
    """A numba function of two float64 calling the LLVM intrinsic ``name``."""

    def operation(typingctx, a, b):  # pragma: no cover - compiled
        signature = types.float64(types.float64, types.float64)

        def codegen(context, builder, sig, args):
            function = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(_F64, [_F64, _F64]), name
            )
            return builder.call(function, list(args))

        return signature, codegen

    operation.__name__ = name.replace(".", "_")  # names numba's typing errors
    return intrinsic(operation)


def _python_fmin(a: float, b: float) -> float:
    return b if a != a else a if b != b else min(a, b)


def _python_fmax(a: float, b: float) -> float:
    return b if a != a else a if b != b else max(a, b)


def _python_prefetch(array: Any, index: int) -> None:
    return None


# Typed as Any: numba's own annotations describe the compile-time call, not the one kernels
# make. With NUMBA_DISABLE_JIT the kernels run as Python, which cannot call an intrinsic.
prefetch: Any
fmin: Any
fmax: Any
if config.DISABLE_JIT:  # type: ignore[attr-defined]  # set from the environment at import
    prefetch, fmin, fmax = _python_prefetch, _python_fmin, _python_fmax
else:
    prefetch = intrinsic(_prefetch)
    fmin = _float_binary("llvm.minnum.f64")
    fmax = _float_binary("llvm.maxnum.f64")
