using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AttnGen;

/// <summary>
/// Rotary position embedding (RoPE) with the "rotate half" pairing of GPT-NeoX and Hugging Face Llama: element
/// <c>i</c> of a head vector pairs with element <c>i + D/2</c>, and the pair at position <c>p</c> turns by the angle
/// <c>p · θ_i</c> with <c>θ_i = base^(−2i/D)</c>:
/// <c>x'[i] = x[i]·cos(pθ_i) − x[i+D/2]·sin(pθ_i)</c>, <c>x'[i+D/2] = x[i+D/2]·cos(pθ_i) + x[i]·sin(pθ_i)</c>.
/// </summary>
/// <remarks>
/// The table holds <c>cos</c> and <c>sin</c> for positions <c>0 .. Positions-1</c>, built once (a layer builds one for
/// its sequence length): row <c>p</c> is <c>cos(pθ_0) .. cos(pθ_{D/2-1})</c> then <c>sin(pθ_0) .. sin(pθ_{D/2-1})</c>,
/// <c>D</c> floats, 64-byte aligned. The angles and their cosines and sines are computed in double and rounded
/// once to float, so a long position is as accurate as a short one (PyTorch reference code that computes
/// <c>p · θ_i</c> in float32 differs from this table by the rounding of that product).
/// <see cref="Rotate(float*, int, int, int, int, KernelIsa)"/> applies the rotation in place;
/// <see cref="RotateBack(float*, int, int, int, int, KernelIsa)"/> applies its inverse (the angle −pθ), which is
/// also its transpose: the backward pass of a rotation turns the gradient of the rotated vector back with it.
/// </remarks>
public sealed unsafe class RotaryTable : IDisposable
{
    private readonly AlignedBuffer _table;

    /// <summary>A table for head vectors of <paramref name="headDim"/> floats at positions 0 .. <paramref name="positions"/> - 1.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="headDim"/> is odd or below 2, <paramref name="positions"/> below 1,
    /// <paramref name="rotaryBase"/> not a finite number above 1.</exception>
    public RotaryTable(int headDim, int positions, double rotaryBase = 10000)
    {
        if (headDim < 2 || headDim % 2 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(headDim), headDim, $"'{nameof(headDim)}' is {headDim}; expected an even number of at least 2.");
        }
        Guard.Parallelism(positions);
        if (!double.IsFinite(rotaryBase) || rotaryBase <= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(rotaryBase), rotaryBase, $"'{nameof(rotaryBase)}' is {rotaryBase}; expected a finite number above 1.");
        }
        HeadDim = headDim;
        Positions = positions;
        Base = rotaryBase;
        _table = new AlignedBuffer(checked(positions * headDim));
        int half = headDim / 2;
        float* table = _table.Pointer;
        for (int i = 0; i < half; i++)
        {
            double theta = Math.Pow(rotaryBase, -2.0 * i / headDim);
            for (int p = 0; p < positions; p++)
            {
                (double sin, double cos) = Math.SinCos(p * theta);
                table[(long)p * headDim + i] = (float)cos;
                table[(long)p * headDim + half + i] = (float)sin;
            }
        }
    }

    /// <summary>Floats per head vector (D).</summary>
    public int HeadDim { get; }

    /// <summary>Positions the table covers.</summary>
    public int Positions { get; }

    /// <summary>The base of the frequencies θ_i = base^(−2i/D).</summary>
    public double Base { get; }

    /// <summary>cos(p · θ_i).</summary>
    public float Cos(int position, int i) => Entry(position, i, 0);

    /// <summary>sin(p · θ_i).</summary>
    public float Sin(int position, int i) => Entry(position, i, HeadDim / 2);

    /// <summary>
    /// Rotates <paramref name="rows"/> rows of <paramref name="heads"/> head vectors in place: row <c>r</c>'s head <c>h</c> is
    /// <c>x[r · rowStride + h · HeadDim ..]</c> at position <c>firstPosition + r</c>.
    /// </summary>
    public void Rotate(Span<float> x, int rows, int rowStride, int heads, int firstPosition, KernelIsa? isa = null)
    {
        Check(x.Length, rows, rowStride, heads, nameof(x));
        fixed (float* p = x)
        {
            Rotate(p, rows, rowStride, heads, firstPosition, isa ?? KernelIsaSupport.Best);
        }
    }

    /// <summary>The inverse of <see cref="Rotate(Span{float}, int, int, int, int, KernelIsa?)"/> (rotation by −pθ), for gradients.</summary>
    public void RotateBack(Span<float> x, int rows, int rowStride, int heads, int firstPosition, KernelIsa? isa = null)
    {
        Check(x.Length, rows, rowStride, heads, nameof(x));
        fixed (float* p = x)
        {
            RotateBack(p, rows, rowStride, heads, firstPosition, isa ?? KernelIsaSupport.Best);
        }
    }

    /// <summary>Rotates in place (layout as in the span overload); the caller guarantees the memory.</summary>
    public void Rotate(float* x, int rows, int rowStride, int heads, int firstPosition, KernelIsa isa)
        => Apply(x, rows, rowStride, heads, firstPosition, 1f, isa);

    /// <summary>
    /// Rotates <paramref name="split"/>'s share of <paramref name="rows"/> rows in place, row r at position r: the
    /// forward of a sequence shared by several workers, each turning its own rows.
    /// </summary>
    public void Rotate(float* x, int rows, int rowStride, int heads, KernelIsa isa, SequenceSplit split)
    {
        int first = split.Start(rows);
        Apply(x + (long)first * rowStride, split.End(rows) - first, rowStride, heads, first, 1f, isa);
    }

    /// <summary>Rotates back in place (layout as in the span overload); the caller guarantees the memory.</summary>
    public void RotateBack(float* x, int rows, int rowStride, int heads, int firstPosition, KernelIsa isa)
        => Apply(x, rows, rowStride, heads, firstPosition, -1f, isa);

    /// <summary>
    /// Rotates <paramref name="split"/>'s share of <paramref name="rows"/> rows back in place, row r at position r: the
    /// backward of a sequence shared by several workers, each turning its own rows.
    /// </summary>
    public void RotateBack(float* x, int rows, int rowStride, int heads, KernelIsa isa, SequenceSplit split)
    {
        int first = split.Start(rows);
        Apply(x + (long)first * rowStride, split.End(rows) - first, rowStride, heads, first, -1f, isa);
    }

    /// <summary>Frees the table.</summary>
    public void Dispose() => _table.Dispose();

    private float Entry(int position, int i, int offset)
    {
        if ((uint)position >= (uint)Positions)
        {
            throw new ArgumentOutOfRangeException(nameof(position), position, $"'{nameof(position)}' is {position}; expected 0..{Positions - 1}.");
        }
        if ((uint)i >= (uint)(HeadDim / 2))
        {
            throw new ArgumentOutOfRangeException(nameof(i), i, $"'{nameof(i)}' is {i}; expected 0..{HeadDim / 2 - 1}.");
        }
        return _table.Pointer[(long)position * HeadDim + offset + i];
    }

    private void Check(int length, int rows, int rowStride, int heads, string name)
    {
        Guard.Parallelism(heads);
        if (rows < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), rows, $"'{nameof(rows)}' is {rows}; expected 0 or more.");
        }
        if (rowStride < heads * HeadDim)
        {
            throw new ArgumentOutOfRangeException(nameof(rowStride), rowStride, $"'{nameof(rowStride)}' is {rowStride}; expected at least heads x HeadDim = {heads * HeadDim}.");
        }
        long needed = rows == 0 ? 0 : (long)(rows - 1) * rowStride + heads * HeadDim;
        if (length < needed)
        {
            throw new ArgumentException($"'{name}' has length {length}; expected at least {needed} = ({rows} - 1) rows x stride {rowStride} + {heads} heads x {HeadDim}.", name);
        }
    }

    private void Apply(float* x, int rows, int rowStride, int heads, int firstPosition, float sign, KernelIsa isa)
    {
        ObjectDisposedException.ThrowIf(_table.IsDisposed, this);
        if (firstPosition < 0 || firstPosition > Positions - rows)
        {
            throw new ArgumentOutOfRangeException(nameof(firstPosition), firstPosition,
                $"'{nameof(firstPosition)}' is {firstPosition}; with {rows} rows expected 0..{Positions - rows} (the table covers {Positions} positions).");
        }
        Guard.IsaSupported(isa);
        if (isa == KernelIsa.Avx512 && Avx512F.IsSupported)
        {
            Apply<Vector512Ops, Vector512<float>>(x, rows, rowStride, heads, firstPosition, sign);
        }
        else if (isa == KernelIsa.Avx2 && Avx2.IsSupported && Fma.IsSupported)
        {
            Apply<Vector256Ops, Vector256<float>>(x, rows, rowStride, heads, firstPosition, sign);
        }
        else if (isa == KernelIsa.Vector128 && Vector128.IsHardwareAccelerated)
        {
            Apply<Vector128Ops, Vector128<float>>(x, rows, rowStride, heads, firstPosition, sign);
        }
        else
        {
            Apply<ScalarOps, float>(x, rows, rowStride, heads, firstPosition, sign);
        }
    }

    // y1 = x1·c − x2·(±s), y2 = x2·c + x1·(±s): two products, then one subtraction or addition (no fused multiply-add), on every path.
    internal void Apply<TOps, TVec>(float* x, int rows, int rowStride, int heads, int firstPosition, float sign)
        where TOps : struct, IVectorOps<TVec>
        where TVec : struct
    {
        int d = HeadDim, half = d / 2, n = TOps.Width;
        int vectorEnd = half / n * n;
        TVec signs = TOps.Create(sign);
        for (int r = 0; r < rows; r++)
        {
            float* cos = _table.Pointer + (long)(firstPosition + r) * d, sin = cos + half;
            for (int h = 0; h < heads; h++)
            {
                float* x1 = x + (long)r * rowStride + (long)h * d, x2 = x1 + half;
                int i = 0;
                for (; i < vectorEnd; i += n)
                {
                    TVec a = TOps.Load(x1 + i), b = TOps.Load(x2 + i), c = TOps.Load(cos + i), s = TOps.Multiply(TOps.Load(sin + i), signs);
                    TOps.Store(TOps.Subtract(TOps.Multiply(a, c), TOps.Multiply(b, s)), x1 + i);
                    TOps.Store(TOps.Add(TOps.Multiply(b, c), TOps.Multiply(a, s)), x2 + i);
                }
                for (; i < half; i++)
                {
                    float a = x1[i], b = x2[i], c = cos[i], s = sin[i] * sign;
                    x1[i] = a * c - b * s;
                    x2[i] = b * c + a * s;
                }
            }
        }
    }
}
