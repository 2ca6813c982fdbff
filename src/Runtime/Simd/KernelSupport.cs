using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace AttnGen;

/// <summary>
/// Data movement the generated vector kernels share: packing projection weights into panels (once per
/// weight change) and keys and values into padded tiles (once per sequence and key/value head). These are
/// memory-bound copies, so they take their sizes as arguments instead of being generated per shape.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class KernelSupport
{
    /// <summary>Floats in <see cref="ZeroRow"/>: at least the widest register tile (64 floats on AVX-512).</summary>
    public const int ZeroRowLength = 256;

    /// <summary>
    /// <see cref="ZeroRowLength"/> zeros, 64-byte aligned, never written: the starting row of a register tile whose
    /// accumulators start at zero (the projection tile starts at its bias row instead; both are one kernel).
    /// </summary>
    public static readonly float* ZeroRow = AllocateZeroRow();

    private static float* AllocateZeroRow()
    {
        var row = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(ZeroRowLength * sizeof(float), 64);
        new Span<float>(row, ZeroRowLength).Clear();
        return row;
    }

    /// <summary>
    /// Packs <c>W[n, k]</c> (row-major, PyTorch's <c>[out, in]</c>) into panels of <paramref name="panelWidth"/>
    /// output columns: panel p holds <c>k</c> rows of <paramref name="panelWidth"/> weights
    /// (<c>W[p*panelWidth + c, kk]</c> at row kk, column c), then <paramref name="panelWidth"/> biases. Columns
    /// past <paramref name="n"/> and a missing bias are zeros. Writes <c>ceil(n / panelWidth) * (k + 1) * panelWidth</c> floats.
    /// </summary>
    public static void PackPanels(float* w, float* bias, int n, int k, int panelWidth, float* destination)
    {
        int panels = (n + panelWidth - 1) / panelWidth;
        for (int p = 0; p < panels; p++)
        {
            float* panel = destination + (long)p * (k + 1) * panelWidth;
            int columns = Math.Min(panelWidth, n - p * panelWidth);
            for (int kk = 0; kk < k; kk++)
            {
                float* row = panel + (long)kk * panelWidth;
                for (int c = 0; c < panelWidth; c++)
                {
                    row[c] = c < columns ? w[(long)(p * panelWidth + c) * k + kk] : 0f;
                }
            }
            float* b = panel + (long)k * panelWidth;
            for (int c = 0; c < panelWidth; c++)
            {
                b[c] = bias != null && c < columns ? bias[p * panelWidth + c] : 0f;
            }
        }
    }

    /// <summary>
    /// Transposes one head's keys block by block: block <c>b</c> holds keys <c>b·blockSize ..</c> as
    /// <c>[headDim, blockSize]</c>, so <c>destination[b·headDim·blockSize + d·blockSize + j % blockSize] =
    /// keys[j * rowStride + d]</c>, zero for <c>rows ≤ j &lt; paddedRows</c> (a multiple of blockSize). A score tile then
    /// reads one contiguous block with a short row stride instead of rows a whole sequence apart, whose
    /// power-of-two stride maps them onto a few L1 sets and evicts them (S = 256 or more).
    /// </summary>
    public static void PackKeyBlocks(float* keys, int rowStride, int rows, int headDim, int paddedRows, int blockSize, float* destination)
    {
        int fastRows = (Sse.IsSupported || AdvSimd.Arm64.IsSupported) && blockSize % 4 == 0 ? rows / 4 * 4 : 0;
        int fastDims = headDim / 4 * 4;
        int wideRows = Avx.IsSupported && blockSize % 8 == 0 && headDim >= 8 ? rows / 8 * 8 : 0;
        int wideDims = headDim / 8 * 8;
        // 8 x 8 tiles on AVX: eight keys' d .. d + 7 become eight columns of eight keys; of those keys, the dims past the
        // last 8 go in two 4 x 4 tiles per 4 dims, and the dims past the last 4 one at a time in the loop at the end.
        for (int j = 0; j < wideRows; j += 8)
        {
            float* tile = destination + (long)(j / blockSize) * headDim * blockSize + j % blockSize;
            float* key = keys + (long)j * rowStride;
            for (int d = 0; d < wideDims; d += 8)
            {
                Transpose8x8(key + d, rowStride, tile + (long)d * blockSize, blockSize);
            }
            for (int d = wideDims; d < fastDims; d += 4)
            {
                for (int half = 0; half < 8; half += 4)
                {
                    float* k4 = key + (long)half * rowStride;
                    Transpose4x4(
                        Vector128.Load(k4 + d), Vector128.Load(k4 + rowStride + d),
                        Vector128.Load(k4 + 2 * rowStride + d), Vector128.Load(k4 + 3 * rowStride + d),
                        out Vector128<float> c0, out Vector128<float> c1, out Vector128<float> c2, out Vector128<float> c3);
                    c0.Store(tile + half + (long)d * blockSize);
                    c1.Store(tile + half + (long)(d + 1) * blockSize);
                    c2.Store(tile + half + (long)(d + 2) * blockSize);
                    c3.Store(tile + half + (long)(d + 3) * blockSize);
                }
            }
        }
        // 4 x 4 tiles: four keys' d .. d + 3 become four columns of four keys (a quarter of the scalar stores).
        for (int j = wideRows; j < fastRows; j += 4)
        {
            float* tile = destination + (long)(j / blockSize) * headDim * blockSize + j % blockSize;
            float* key = keys + (long)j * rowStride;
            for (int d = 0; d < fastDims; d += 4)
            {
                Transpose4x4(
                    Vector128.Load(key + d), Vector128.Load(key + rowStride + d),
                    Vector128.Load(key + 2 * rowStride + d), Vector128.Load(key + 3 * rowStride + d),
                    out Vector128<float> c0, out Vector128<float> c1, out Vector128<float> c2, out Vector128<float> c3);
                c0.Store(tile + (long)d * blockSize);
                c1.Store(tile + (long)(d + 1) * blockSize);
                c2.Store(tile + (long)(d + 2) * blockSize);
                c3.Store(tile + (long)(d + 3) * blockSize);
            }
        }
        // The rest one element at a time: head dims past the last 4, keys past the last 4, then zero padding.
        for (int j = 0; j < paddedRows; j++)
        {
            float* column = destination + (long)(j / blockSize) * headDim * blockSize + j % blockSize;
            float* key = keys + (long)j * rowStride;
            for (int d = j < fastRows ? fastDims : 0; d < headDim; d++)
            {
                column[(long)d * blockSize] = j < rows ? key[d] : 0f;
            }
        }
    }

    // Eight rows' d .. d + 7 (rowStride floats apart) -> eight columns of eight (destinationStride floats apart):
    // pairs of rows interleaved, then pairs of pairs, then the 128-bit halves of rows r and r + 4 swapped together.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* source, int rowStride, float* destination, int destinationStride)
    {
        Vector256<float> r0 = Vector256.Load(source), r1 = Vector256.Load(source + rowStride);
        Vector256<float> r2 = Vector256.Load(source + 2 * rowStride), r3 = Vector256.Load(source + 3 * rowStride);
        Vector256<float> r4 = Vector256.Load(source + 4 * rowStride), r5 = Vector256.Load(source + 5 * rowStride);
        Vector256<float> r6 = Vector256.Load(source + 6 * rowStride), r7 = Vector256.Load(source + 7 * rowStride);
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
        Vector256<float> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Permute2x128(u0, u4, 0x20).Store(destination);
        Avx.Permute2x128(u1, u5, 0x20).Store(destination + destinationStride);
        Avx.Permute2x128(u2, u6, 0x20).Store(destination + 2 * destinationStride);
        Avx.Permute2x128(u3, u7, 0x20).Store(destination + 3 * destinationStride);
        Avx.Permute2x128(u0, u4, 0x31).Store(destination + 4 * destinationStride);
        Avx.Permute2x128(u1, u5, 0x31).Store(destination + 5 * destinationStride);
        Avx.Permute2x128(u2, u6, 0x31).Store(destination + 6 * destinationStride);
        Avx.Permute2x128(u3, u7, 0x31).Store(destination + 7 * destinationStride);
    }

    // [a0 a1 a2 a3], [b..], [c..], [d..] -> [a0 b0 c0 d0], [a1 b1 c1 d1], [a2 ..], [a3 ..].
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4x4(Vector128<float> a, Vector128<float> b, Vector128<float> c, Vector128<float> d,
        out Vector128<float> c0, out Vector128<float> c1, out Vector128<float> c2, out Vector128<float> c3)
    {
        if (Sse.IsSupported)
        {
            Vector128<float> ab01 = Sse.UnpackLow(a, b), ab23 = Sse.UnpackHigh(a, b);
            Vector128<float> cd01 = Sse.UnpackLow(c, d), cd23 = Sse.UnpackHigh(c, d);
            c0 = Sse.MoveLowToHigh(ab01, cd01);
            c1 = Sse.MoveHighToLow(cd01, ab01);
            c2 = Sse.MoveLowToHigh(ab23, cd23);
            c3 = Sse.MoveHighToLow(cd23, ab23);
        }
        else if (AdvSimd.Arm64.IsSupported)
        {
            Vector128<ulong> ab01 = AdvSimd.Arm64.ZipLow(a, b).AsUInt64(), ab23 = AdvSimd.Arm64.ZipHigh(a, b).AsUInt64();
            Vector128<ulong> cd01 = AdvSimd.Arm64.ZipLow(c, d).AsUInt64(), cd23 = AdvSimd.Arm64.ZipHigh(c, d).AsUInt64();
            c0 = AdvSimd.Arm64.ZipLow(ab01, cd01).AsSingle();
            c1 = AdvSimd.Arm64.ZipHigh(ab01, cd01).AsSingle();
            c2 = AdvSimd.Arm64.ZipLow(ab23, cd23).AsSingle();
            c3 = AdvSimd.Arm64.ZipHigh(ab23, cd23).AsSingle();
        }
        else
        {
            throw new PlatformNotSupportedException(); // callers check IsSupported first
        }
    }

    /// <summary>
    /// Copies one head's values (the forward's P·V) or keys (the backward's dS·K) into <c>[paddedRows, paddedDim]</c>, zero
    /// past <paramref name="rows"/> and <paramref name="headDim"/>, so vector loads never leave the tile and padding
    /// contributes nothing.
    /// </summary>
    public static void PackRows(float* source, int rowStride, int rows, int headDim, int paddedRows, int paddedDim, float* destination)
    {
        for (int j = 0; j < paddedRows; j++)
        {
            var target = new Span<float>(destination + (long)j * paddedDim, paddedDim);
            if (j < rows)
            {
                new ReadOnlySpan<float>(source + (long)j * rowStride, headDim).CopyTo(target);
                target.Slice(headDim).Clear();
            }
            else
            {
                target.Clear();
            }
        }
    }

    /// <summary>The largest of <paramref name="length"/> floats (-inf for an all -inf row).</summary>
    public static float Max(float* values, int length)
        => System.Numerics.Tensors.TensorPrimitives.Max(new ReadOnlySpan<float>(values, length));

    /// <summary>
    /// Backward of <c>Y[m, n] = X[m, k] · W[n, k]ᵀ + b</c>: <c>dX = dY · W</c> (overwritten), <c>dW += dYᵀ · X</c> and
    /// <c>db += Σ_rows dY</c> (accumulated; <paramref name="biasGradient"/> may be null), as vectorised row updates.
    /// </summary>
    public static void LinearBackward(float* outputGradient, float* input, float* weight, float* weightGradient, float* biasGradient,
        float* inputGradient, int m, int n, int k)
    {
        for (int row = 0; row < m; row++)
        {
            var dx = new Span<float>(inputGradient + (long)row * k, k);
            dx.Clear();
            var x = new ReadOnlySpan<float>(input + (long)row * k, k);
            float* dy = outputGradient + (long)row * n;
            for (int col = 0; col < n; col++)
            {
                float g = dy[col];
                if (g == 0f)
                {
                    continue;
                }
                var w = new ReadOnlySpan<float>(weight + (long)col * k, k);
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(w, g, dx, dx);
                var dw = new Span<float>(weightGradient + (long)col * k, k);
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(x, g, dw, dw);
            }
            if (biasGradient != null)
            {
                var db = new Span<float>(biasGradient, n);
                System.Numerics.Tensors.TensorPrimitives.Add(db, new ReadOnlySpan<float>(dy, n), db);
            }
        }
    }

    /// <summary>
    /// Copies <paramref name="rows"/> rows of <paramref name="length"/> floats from rows <paramref name="sourceStride"/>
    /// apart to rows <paramref name="destinationStride"/> apart (a head's rows in and out of an attention tile).
    /// </summary>
    public static void CopyRows(float* source, int sourceStride, float* destination, int destinationStride, int rows, int length)
    {
        for (int r = 0; r < rows; r++)
        {
            new ReadOnlySpan<float>(source + (long)r * sourceStride, length).CopyTo(new Span<float>(destination + (long)r * destinationStride, length));
        }
    }

    /// <summary><c>destination[i] += source[i]</c> for <paramref name="length"/> floats.</summary>
    public static void AddInto(float* destination, float* source, int length)
    {
        var target = new Span<float>(destination, length);
        System.Numerics.Tensors.TensorPrimitives.Add(target, new ReadOnlySpan<float>(source, length), target);
    }
}
