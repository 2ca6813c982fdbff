using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace AttnGen;

/// <summary>
/// The row steps of the generated attention kernels, between their register-tile products: masking a row of a
/// score tile, one online-softmax step over a key block, the backward's recomputed probabilities and score
/// gradient, and the output row's normalisation. Shape-independent (the counts are arguments), written once for
/// every vector width and inlined into the kernel.
/// </summary>
/// <remarks>
/// Scores arrive scaled (the drivers fold the scale into the query tile). Finite scores give finite results at any
/// magnitude: probabilities are e^(S - max) with S - max exact at the maximum (so the row sum is at least 1), and the
/// backward's e^(S - LSE) recomputes the forward's S bit for bit, with LSE = max + log(sum) ≥ max, so its argument is
/// never above 0.
/// </remarks>
/// <typeparam name="TOps">The width: <see cref="Vector512Ops"/>, <see cref="Vector256Ops"/>, <see cref="Vector128Ops"/> or <see cref="ScalarOps"/>.</typeparam>
/// <typeparam name="TVec">Its vector type.</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
internal static unsafe class SoftmaxRows<TOps, TVec>
    where TOps : struct, IVectorOps<TVec>
    where TVec : struct
{
    /// <summary>Sets <c>row[j] = -inf</c> for <c>limit ≤ j &lt; count</c> (count a multiple of the width).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MaskFrom(float* row, int count, int limit)
    {
        TVec visible = TOps.Create(limit);
        TVec masked = TOps.Create(float.NegativeInfinity);
        TVec index = TOps.Indices, step = TOps.Create(TOps.Width);
        for (int j = 0; j < count; j += TOps.Width)
        {
            TOps.Store(TOps.Select(TOps.LessThan(index, visible), TOps.Load(row + j), masked), row + j);
            index = TOps.Add(index, step);
        }
    }

    /// <summary>
    /// One online-softmax step for one row of a key block of <paramref name="count"/> scores (a multiple of the
    /// width): the new maximum, P = e^(S - max) written over the scores, the running sum rescaled and increased by
    /// Σ P. Returns alpha = e^(old max - new max), the factor the row's output accumulator
    /// must be multiplied by: 1 while the maximum holds, 0 on the first block with a visible key. A row with no
    /// visible key yet (every score -inf) gets P = 0 and alpha = 1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float OnlineStep(float* row, int count, ref float max, ref TVec sum)
    {
        TVec blockMax = TOps.Load(row);
        for (int j = TOps.Width; j < count; j += TOps.Width)
        {
            blockMax = TOps.Max(blockMax, TOps.Load(row + j));
        }
        float oldMax = max;
        float newMax = Math.Max(oldMax, TOps.HorizontalMax(blockMax));
        if (newMax == float.NegativeInfinity)
        {
            new Span<float>(row, count).Clear();
            return 1f;
        }
        TVec shift = TOps.Create(newMax), blockSum = TOps.Create(0f);
        for (int j = 0; j < count; j += TOps.Width)
        {
            TVec p = VectorMath<TOps, TVec>.Exp(TOps.Subtract(TOps.Load(row + j), shift));
            TOps.Store(p, row + j);
            blockSum = TOps.Add(blockSum, p);
        }
        float alpha = oldMax == newMax ? 1f
            : oldMax == float.NegativeInfinity ? 0f
            : TOps.First(VectorMath<TOps, TVec>.Exp(TOps.Create(oldMax - newMax)));
        sum = TOps.MultiplyAdd(sum, TOps.Create(alpha), blockSum);
        max = newMax;
        return alpha;
    }

    /// <summary>
    /// The backward's step for one row of a key block: <paramref name="p"/> holds the scores S and
    /// <paramref name="ds"/> holds dP; writes P = e^(S - LSE) on keys below <paramref name="limit"/> (0 on the
    /// others) into <paramref name="p"/> and P ∘ (dP - Δ) into <paramref name="ds"/> (the gradient of the scaled score).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Gradient(float* p, float* ds, int count, int limit, float lse, float delta)
    {
        TVec visible = TOps.Create(limit), shift = TOps.Create(lse), d = TOps.Create(delta);
        TVec index = TOps.Indices, step = TOps.Create(TOps.Width), zero = TOps.Create(0f);
        for (int j = 0; j < count; j += TOps.Width)
        {
            TVec e = VectorMath<TOps, TVec>.Exp(TOps.Subtract(TOps.Load(p + j), shift));
            e = TOps.Select(TOps.LessThan(index, visible), e, zero);
            TOps.Store(e, p + j);
            TOps.Store(TOps.Multiply(e, TOps.Subtract(TOps.Load(ds + j), d)), ds + j);
            index = TOps.Add(index, step);
        }
    }

    /// <summary>
    /// Σ_d a[d]·b[d] over <paramref name="length"/> floats, one multiply-add after another in d order, rounded as a
    /// lane of the dP tile sums dO·V: a row that sees a single key has O = V, so dP - Δ is then exactly 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(float* a, float* b, int length)
    {
        float sum = 0f;
        for (int d = 0; d < length; d++)
        {
            sum = TOps.MultiplyAddScalar(a[d], b[d], sum);
        }
        return sum;
    }

    /// <summary><c>destination[d] = source[d] · factor</c> for <paramref name="length"/> floats; nothing past them is written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ScaleInto(float* source, float* destination, int length, float factor)
    {
        TVec f = TOps.Create(factor);
        int d = 0;
        for (; d + TOps.Width <= length; d += TOps.Width)
        {
            TOps.Store(TOps.Multiply(TOps.Load(source + d), f), destination + d);
        }
        for (; d < length; d++)
        {
            destination[d] = source[d] * factor;
        }
    }
}
