"""Software prefetch for the filtration-order kernels (numba intrinsic around ``llvm.prefetch``).

The union-find passes visit pixels in filtration order, which is random in memory: every pixel
costs a few cache misses (its neighbour mask, the parents of its neighbours) that depend on nothing
but ``order``. Asking for the data of the pixel ``PREFETCH_DISTANCE`` steps ahead overlaps those
misses with the work on the current pixel (3D dimension-0 pass at 128³: 251 ms -> 66 ms, measured
in docs/benchmarks.md). A prefetch is a hint: it never faults and changes no result.
"""
from __future__ import annotations

import numba
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = ["PREFETCH_DISTANCE", "prefetch", "prefetch_neighbourhood"]

PREFETCH_DISTANCE = 8  # pixels ahead; 4-32 measured, 8 best at 512² and 128³


@intrinsic
def prefetch(typingctx, array, index):
    """Hint that ``array[index]`` (1D, ``0 <= index < len``) will be read soon; no effect on results."""
    if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
        return None
    sig = types.void(array, index)

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        ary = context.make_array(array_type)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, array_type, ary, [args[1]], wraparound=False)
        byte_ptr = builder.bitcast(ptr, ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer(), i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        # read access, high temporal locality, data cache
        builder.call(fn, [byte_ptr, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


@numba.njit(inline="always", cache=True, nogil=True)
def prefetch_neighbourhood(array, q, shape):
    """Prefetch the cache lines of ``array`` around flat index ``q`` of a ``(D, H, W)`` grid.

    The rows ``y - 1, y, y + 1`` of the planes ``z - 1, z, z + 1`` (one line each: the three
    columns of a row are almost always in one line); indices are clamped to the array.
    """
    last = array.shape[0] - 1
    W = shape[2]
    HW = shape[1] * W
    reach = 1 if shape[0] > 1 else 0
    for dz in range(-reach, reach + 1):
        for dy in range(-1, 2):
            i = q + dz * HW + dy * W
            prefetch(array, min(max(i, 0), last))
