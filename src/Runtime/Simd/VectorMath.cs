using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace AttnGen;

/// <summary>
/// The elementwise functions the generated kernels share, written once for every vector width and inlined
/// into the kernel that calls them (a call inside an attention tile would make the JIT spill the tile's
/// registers around it).
/// </summary>
/// <typeparam name="TOps">The width: <see cref="Vector512Ops"/>, <see cref="Vector256Ops"/>, <see cref="Vector128Ops"/> or <see cref="ScalarOps"/>.</typeparam>
/// <typeparam name="TVec">Its vector type.</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class VectorMath<TOps, TVec>
    where TOps : struct, IVectorOps<TVec>
    where TVec : struct
{
    /// <summary>
    /// e^x in single precision: relative error at most 1.6e-7 on [-87.3, 88.3], normal results only. n = round(x·log2 e)
    /// by adding 1.5·2^23 + 127, which leaves n + 127 in the low mantissa bits, so 2^n is those bits shifted into the
    /// exponent; r = x - n·ln 2 with ln 2 split in two so r is exact; e^r = 1 + r·P(r), P a degree-4 minimax
    /// polynomial on [-ln2/2, ln2/2]; e^x = 2^n + (r·2^n)·P(r). x &lt; -87.3365 (also -inf) gives 0, x &gt; 88.3763 gives
    /// +inf (e^x is still finite up to 88.72, a range no caller uses: softmax arguments are ≤ 0), NaN stays NaN.
    /// </summary>
    /// <remarks>Not <c>Vector512.Exp</c>: on .NET 10 that evaluates float exp in double precision and is not inlined.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Exp(TVec x)
        => TOps.Select(TOps.GreaterThan(x, TOps.Create(88.37626f)), TOps.Create(float.PositiveInfinity), ExpNonPositive(x));

    /// <summary>
    /// e^x for the softmax's arguments, x ≤ 0 (also -inf; NaN stays NaN): <see cref="Exp"/> without the overflow select,
    /// which never fires there, so the two agree bit for bit on every x ≤ 0. Above 88.38 the result is not e^x.
    /// </summary>
    /// <remarks>
    /// A compare and a blend fewer per vector, out of about 17 operations in the online softmax's step, which shares the
    /// FMA pipes with the score and P·V products.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec ExpNonPositive(TVec x)
    {
        TVec shifter = TOps.Create(12583039f);
        TVec n = TOps.MultiplyAdd(x, TOps.Create(1.44269504f), shifter);
        TVec scale = TOps.ShiftIntoExponent(n);
        n = TOps.Subtract(n, shifter);
        TVec r = TOps.MultiplyAdd(n, TOps.Create(-6.93145752e-1f), x);
        r = TOps.MultiplyAdd(n, TOps.Create(-1.42860677e-6f), r);
        TVec poly = TOps.MultiplyAdd(TOps.Create(8.28929059e-3f), r, TOps.Create(4.18978222e-2f));
        poly = TOps.MultiplyAdd(poly, r, TOps.Create(1.66676521e-1f));
        poly = TOps.MultiplyAdd(poly, r, TOps.Create(4.99991506e-1f));
        poly = TOps.MultiplyAdd(poly, r, TOps.Create(9.99999702e-1f));
        TVec result = TOps.MultiplyAdd(TOps.Multiply(r, scale), poly, scale);
        return TOps.Select(TOps.LessThan(x, TOps.Create(-87.33654f)), TOps.Create(0f), result);
    }

    /// <summary>tanh(x) = 1 - 2 / (e^2x + 1): exact limits ±1 where e^2x is 0 or +inf.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Tanh(TVec x)
    {
        TVec one = TOps.Create(1f);
        TVec e = Exp(TOps.Add(x, x));
        return TOps.Subtract(one, TOps.Divide(TOps.Create(2f), TOps.Add(e, one)));
    }

    /// <summary>The largest lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HorizontalMax(TVec x) => TOps.HorizontalMax(x);

    /// <summary>The sum of the lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HorizontalSum(TVec x) => TOps.HorizontalSum(x);
}
