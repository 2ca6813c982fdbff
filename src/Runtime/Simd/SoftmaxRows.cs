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
    where TVec : unmanaged
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
    /// One online-softmax step for the <paramref name="rows"/> rows of a score tile (row r at
    /// <c>tile + r · stride</c>, <paramref name="count"/> scores each, a multiple of the width): each row's new maximum,
    /// P = e^(S - max) written over the scores, the running sum rescaled and increased by Σ P, and in
    /// <paramref name="alpha"/> the factor e^(old max - new max) each row's output accumulator must be multiplied by:
    /// 1 while the maximum holds, 0 on the first block with a visible key. A row with no visible key yet (every score
    /// -inf) gets P = 0 and alpha = 1.
    /// </summary>
    /// <remarks>
    /// The step runs phase by phase over the whole tile (every row's maximum, then the factors of all rows in one
    /// vector exp, then the rows' exps) rather than row by row: a row's maximum, its horizontal reduction and its
    /// exps form one dependent chain, and the rows' chains are independent, so this order lets them overlap.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void OnlineStep(float* tile, int stride, int rows, int count, float* max, TVec* sum, float* alpha)
    {
        // The new maxima, held in alpha until the factors replace them.
        for (int r = 0; r < rows; r++)
        {
            float* row = tile + r * stride;
            TVec blockMax = TOps.Load(row);
            for (int j = TOps.Width; j < count; j += TOps.Width)
            {
                blockMax = TOps.Max(blockMax, TOps.Load(row + j));
            }
            alpha[r] = Math.Max(max[r], TOps.HorizontalMax(blockMax));
        }
        int i = 0;
        for (; i + TOps.Width <= rows; i += TOps.Width)
        {
            TVec oldMax = TOps.Load(max + i), newMax = TOps.Load(alpha + i);
            TOps.Store(newMax, max + i);
            TOps.Store(Rescale(oldMax, newMax), alpha + i);
        }
        if (i < rows)
        {
            TVec mask = TOps.TailMask(rows - i);
            TVec oldMax = TOps.LoadTail(max + i, mask), newMax = TOps.LoadTail(alpha + i, mask);
            TOps.StoreTail(newMax, max + i, mask);
            TOps.StoreTail(Rescale(oldMax, newMax), alpha + i, mask);
        }
        for (int r = 0; r < rows; r++)
        {
            float* row = tile + r * stride;
            if (max[r] == float.NegativeInfinity)
            {
                new Span<float>(row, count).Clear();
                continue;
            }
            TVec shift = TOps.Create(max[r]), blockSum = TOps.Create(0f);
            for (int j = 0; j < count; j += TOps.Width)
            {
                TVec p = VectorMath<TOps, TVec>.ExpNonPositive(TOps.Subtract(TOps.Load(row + j), shift));
                TOps.Store(p, row + j);
                blockSum = TOps.Add(blockSum, p);
            }
            sum[r] = TOps.MultiplyAdd(sum[r], TOps.Create(alpha[r]), blockSum);
        }
    }

    // e^(old - new) for old ≤ new, exactly 1 where they are equal (also both -inf), 0 where old is -inf and new is not.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Rescale(TVec oldMax, TVec newMax)
        => TOps.Select(TOps.LessThan(oldMax, newMax), VectorMath<TOps, TVec>.ExpNonPositive(TOps.Subtract(oldMax, newMax)), TOps.Create(1f));

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
            TVec e = VectorMath<TOps, TVec>.ExpNonPositive(TOps.Subtract(TOps.Load(p + j), shift));
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

    /// <summary>
    /// <c>result[r] = Dot(a + r · strideA, b + r · strideB, length)</c> for <paramref name="count"/> rows, each row summed
    /// exactly as <see cref="Dot"/> sums it, four rows at a time: one row's multiply-adds form a chain as long as the
    /// row, each waiting on the last, and four independent chains side by side keep the pipes busy in that wait.
    /// </summary>
    public static void Dots(float* a, int strideA, float* b, int strideB, int length, int count, float* result)
    {
        int r = 0;
        for (; r + 4 <= count; r += 4)
        {
            float* a0 = a + r * strideA, a1 = a0 + strideA, a2 = a1 + strideA, a3 = a2 + strideA;
            float* b0 = b + r * strideB, b1 = b0 + strideB, b2 = b1 + strideB, b3 = b2 + strideB;
            float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
            for (int d = 0; d < length; d++)
            {
                s0 = TOps.MultiplyAddScalar(a0[d], b0[d], s0);
                s1 = TOps.MultiplyAddScalar(a1[d], b1[d], s1);
                s2 = TOps.MultiplyAddScalar(a2[d], b2[d], s2);
                s3 = TOps.MultiplyAddScalar(a3[d], b3[d], s3);
            }
            result[r] = s0;
            result[r + 1] = s1;
            result[r + 2] = s2;
            result[r + 3] = s3;
        }
        for (; r < count; r++)
        {
            result[r] = Dot(a + r * strideA, b + r * strideB, length);
        }
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
