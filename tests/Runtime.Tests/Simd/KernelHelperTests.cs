using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AttnGen.Runtime.Tests.Simd;

/// <summary>
/// The shape-independent kernel helpers on every vector width this machine accelerates and on the scalar width
/// (the kernel suite runs them again under every forced path): exp against double precision, and the online-softmax step and the backward's
/// recomputed probabilities at score magnitudes where a fused scale-and-subtract would round past exp's range.
/// </summary>
public sealed unsafe class KernelHelperTests
{
    public static TheoryData<int> Widths()
    {
        var data = new TheoryData<int> { 1 };
        if (Vector128.IsHardwareAccelerated)
        {
            data.Add(128);
        }
        if (Avx2.IsSupported && Fma.IsSupported)
        {
            data.Add(256);
        }
        if (Avx512F.IsSupported && Fma.IsSupported)
        {
            data.Add(512);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Exp_IsWithin2e7OfDoublePrecision_AndClampsOutsideItsRange(int width)
    {
        Func<float, float> exp = width switch
        {
            512 => x => VectorMath<Vector512Ops, Vector512<float>>.Exp(Vector512.Create(x)).ToScalar(),
            256 => x => VectorMath<Vector256Ops, Vector256<float>>.Exp(Vector256.Create(x)).ToScalar(),
            1 => VectorMath<ScalarOps, float>.Exp,
            _ => x => VectorMath<Vector128Ops, Vector128<float>>.Exp(Vector128.Create(x)).ToScalar(),
        };
        double worst = 0;
        for (float x = -87f; x <= 88f; x += 0.0137f)
        {
            double expected = Math.Exp(x);
            worst = Math.Max(worst, Math.Abs(exp(x) - expected) / expected);
        }
        Assert.True(worst <= 2e-7, $"relative error {worst:E2}");
        Assert.Equal(0f, exp(-88f));
        Assert.Equal(0f, exp(float.NegativeInfinity));
        Assert.Equal(float.PositiveInfinity, exp(89f));
        Assert.True(float.IsNaN(exp(float.NaN)));
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void ExpNonPositive_MatchesExpBitForBit_OnEveryNonPositiveArgument(int width)
    {
        (Func<float, float> exp, Func<float, float> softmaxExp) = width switch
        {
            512 => ((Func<float, float>)(x => VectorMath<Vector512Ops, Vector512<float>>.Exp(Vector512.Create(x)).ToScalar()),
                (Func<float, float>)(x => VectorMath<Vector512Ops, Vector512<float>>.ExpNonPositive(Vector512.Create(x)).ToScalar())),
            256 => (x => VectorMath<Vector256Ops, Vector256<float>>.Exp(Vector256.Create(x)).ToScalar(),
                x => VectorMath<Vector256Ops, Vector256<float>>.ExpNonPositive(Vector256.Create(x)).ToScalar()),
            1 => (VectorMath<ScalarOps, float>.Exp, VectorMath<ScalarOps, float>.ExpNonPositive),
            _ => (x => VectorMath<Vector128Ops, Vector128<float>>.Exp(Vector128.Create(x)).ToScalar(),
                x => VectorMath<Vector128Ops, Vector128<float>>.ExpNonPositive(Vector128.Create(x)).ToScalar()),
        };
        // Every float in [-100, 0] at a stride of 997 ulps (about 1.1 million arguments), then the edges.
        for (int bits = BitConverter.SingleToInt32Bits(-0f); ; bits += 997)
        {
            float x = BitConverter.Int32BitsToSingle(bits);
            if (x < -100f)
            {
                break;
            }
            Assert.Equal(BitConverter.SingleToInt32Bits(exp(x)), BitConverter.SingleToInt32Bits(softmaxExp(x)));
        }
        foreach (float x in new[] { 0f, -0f, -float.Epsilon, -87.33654f, -87.33655f, -1e30f, float.MinValue, float.NegativeInfinity })
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(exp(x)), BitConverter.SingleToInt32Bits(softmaxExp(x)));
        }
        Assert.True(float.IsNaN(softmaxExp(float.NaN)));
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void OnlineStep_AndGradient_StayFiniteAndExactAtTheMaximum_ForHugeScores(int width)
    {
        switch (width)
        {
            case 512: CheckHugeScores<Vector512Ops, Vector512<float>>(); break;
            case 256: CheckHugeScores<Vector256Ops, Vector256<float>>(); break;
            case 1: CheckHugeScores<ScalarOps, float>(); break;
            default: CheckHugeScores<Vector128Ops, Vector128<float>>(); break;
        }
    }

    private static void CheckHugeScores<TOps, TVec>()
        where TOps : struct, IVectorOps<TVec>
        where TVec : unmanaged
    {
        int count = Math.Max(2 * TOps.Width, 8); // room for the maximum at index 3 on the scalar width too
        foreach (float magnitude in new[] { 3.5e9f, 1e20f, 1e36f })
        {
            // Scaled scores near the magnitude, the largest at index 3; the last key masked.
            float[] scores = new float[count];
            for (int j = 0; j < count; j++)
            {
                scores[j] = magnitude * (0.5f + 0.01f * ((j * 7) % count));
            }
            scores[3] = magnitude * 1.01f;
            float[] row = (float[])scores.Clone();
            float max = float.NegativeInfinity, alpha = float.NaN;
            TVec sum = TOps.Create(0f);
            fixed (float* p = row)
            {
                SoftmaxRows<TOps, TVec>.MaskFrom(p, count, count - 1);
                SoftmaxRows<TOps, TVec>.OnlineStep(p, count, 1, count, &max, &sum, &alpha);
            }
            float total = TOps.HorizontalSum(sum);
            Assert.Equal(0f, alpha); // the first block with a visible key
            Assert.Equal(scores[3], max);
            Assert.Equal(1f, row[3]);
            Assert.Equal(0f, row[count - 1]);
            Assert.True(total >= 1f && float.IsFinite(total), $"sum {total} at {magnitude:E0}");

            // The backward recomputes P from the row log-sum-exp the forward saved.
            float lse = max + MathF.Log(total);
            float[] p2 = (float[])scores.Clone();
            float[] ds = new float[count];
            Array.Fill(ds, 0.5f);
            fixed (float* pp = p2, pd = ds)
            {
                SoftmaxRows<TOps, TVec>.Gradient(pp, pd, count, count - 1, lse, 0.25f);
            }
            for (int j = 0; j < count; j++)
            {
                Assert.True(p2[j] >= 0f && p2[j] <= 1f, $"P[{j}] = {p2[j]} at {magnitude:E0}");
                Assert.True(float.IsFinite(ds[j]), $"dS[{j}] = {ds[j]} at {magnitude:E0}");
            }
            Assert.Equal(0f, p2[count - 1]);
            Assert.True(p2[3] > 0.5f, $"P at the maximum {p2[3]} at {magnitude:E0}");
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void OnlineStep_OverATile_MatchesEachRowComputedAlone(int width)
    {
        switch (width)
        {
            case 512: CheckTileStep<Vector512Ops, Vector512<float>>(); break;
            case 256: CheckTileStep<Vector256Ops, Vector256<float>>(); break;
            case 1: CheckTileStep<ScalarOps, float>(); break;
            default: CheckTileStep<Vector128Ops, Vector128<float>>(); break;
        }
    }

    // Two online steps over a tile of 11 rows (a whole vector of rows and a tail on every width) whose rows take every
    // branch: no visible key in either step, none in the first only, the maximum rising, the maximum holding. Each row's
    // P, factor and sum are checked against the row computed alone in double precision, and the exact cases exactly.
    private static void CheckTileStep<TOps, TVec>()
        where TOps : struct, IVectorOps<TVec>
        where TVec : unmanaged
    {
        const int Rows = 11;
        int count = Math.Max(2 * TOps.Width, 8), stride = count + TOps.Width;
        var random = new Random(5);
        float* max = stackalloc float[Rows];
        float* alpha = stackalloc float[Rows];
        TVec* sum = stackalloc TVec[Rows];
        double[] refMax = new double[Rows], refSum = new double[Rows];
        for (int r = 0; r < Rows; r++)
        {
            max[r] = float.NegativeInfinity;
            sum[r] = TOps.Create(0f);
            refMax[r] = double.NegativeInfinity;
        }
        float[] tile = new float[Rows * stride];
        for (int step = 0; step < 2; step++)
        {
            float[] scores = new float[Rows * stride];
            for (int r = 0; r < Rows; r++)
            {
                // Row 0 never sees a key, row 1 only in the second step; rows 2.. rise by 3 in the second step when
                // r is even and drop by 3 (the maximum holds) when r is odd.
                int visible = r == 0 || (r == 1 && step == 0) ? 0 : count - r % 3;
                float offset = step == 0 ? 0f : r % 2 == 0 ? 3f : -3f;
                for (int j = 0; j < count; j++)
                {
                    scores[r * stride + j] = j < visible ? offset + (float)(random.NextDouble() * 8 - 4) : float.NegativeInfinity;
                }
            }
            Array.Copy(scores, tile, tile.Length);
            fixed (float* p = tile)
            {
                SoftmaxRows<TOps, TVec>.OnlineStep(p, stride, Rows, count, max, sum, alpha);
            }
            for (int r = 0; r < Rows; r++)
            {
                double rowMax = double.NegativeInfinity;
                for (int j = 0; j < count; j++)
                {
                    rowMax = Math.Max(rowMax, scores[r * stride + j]);
                }
                double newMax = Math.Max(refMax[r], rowMax);
                Assert.Equal((float)newMax, max[r]);
                if (newMax == double.NegativeInfinity)
                {
                    Assert.Equal(1f, alpha[r]);
                    for (int j = 0; j < count; j++)
                    {
                        Assert.Equal(0f, tile[r * stride + j]);
                    }
                    continue;
                }
                double expectedAlpha = refMax[r] == double.NegativeInfinity ? 0 : Math.Exp(refMax[r] - newMax);
                if (refMax[r] == newMax)
                {
                    Assert.Equal(1f, alpha[r]);
                }
                Assert.True(Math.Abs(alpha[r] - expectedAlpha) <= 2e-6 * expectedAlpha, $"row {r} step {step}: alpha {alpha[r]}, expected {expectedAlpha}");
                double blockSum = 0;
                for (int j = 0; j < count; j++)
                {
                    double expected = Math.Exp(scores[r * stride + j] - newMax);
                    blockSum += expected;
                    Assert.True(Math.Abs(tile[r * stride + j] - expected) <= 2e-6 * expected, $"row {r} step {step} key {j}: P {tile[r * stride + j]}, expected {expected}");
                }
                refSum[r] = refSum[r] * expectedAlpha + blockSum;
                refMax[r] = newMax;
                double sumNow = TOps.HorizontalSum(sum[r]);
                Assert.True(Math.Abs(sumNow - refSum[r]) <= 1e-5 * refSum[r], $"row {r} step {step}: sum {sumNow}, expected {refSum[r]}");
            }
        }
    }

    // Δ_r = dO_r · O_r for every count of rows from 1 to 27 (the groups of four rows and the rows after them),
    // rows of both operands strided: each row bit for bit the single-row chain (the dP tile's order) and within float
    // rounding of double precision.
    [Theory]
    [MemberData(nameof(Widths))]
    public void Dots_MatchTheSingleRowChainBitForBit_ForEveryRowCount(int width)
    {
        switch (width)
        {
            case 512: CheckDots<Vector512Ops, Vector512<float>>(); break;
            case 256: CheckDots<Vector256Ops, Vector256<float>>(); break;
            case 128: CheckDots<Vector128Ops, Vector128<float>>(); break;
            default: CheckDots<ScalarOps, float>(); break;
        }
    }

    private static void CheckDots<TOps, TVec>()
        where TOps : struct, IVectorOps<TVec>
        where TVec : unmanaged
    {
        const int Length = 37, StrideA = 40, StrideB = 45, MaxRows = 27;
        var random = new Random(11);
        float[] a = new float[MaxRows * StrideA], b = new float[MaxRows * StrideB];
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = (float)(random.NextDouble() * 2 - 1);
        }
        for (int i = 0; i < b.Length; i++)
        {
            b[i] = (float)(random.NextDouble() * 2 - 1);
        }
        float[] result = new float[MaxRows + 1];
        fixed (float* pa = a, pb = b, pr = result)
        {
            for (int count = 1; count <= MaxRows; count++)
            {
                pr[count] = float.NaN;
                SoftmaxRows<TOps, TVec>.Dots(pa, StrideA, pb, StrideB, Length, count, pr);
                Assert.True(float.IsNaN(pr[count]), $"{count} rows: wrote past them");
                for (int r = 0; r < count; r++)
                {
                    float single = SoftmaxRows<TOps, TVec>.Dot(pa + r * StrideA, pb + r * StrideB, Length);
                    Assert.Equal(BitConverter.SingleToInt32Bits(single), BitConverter.SingleToInt32Bits(pr[r]));
                    double expected = 0, magnitude = 0;
                    for (int d = 0; d < Length; d++)
                    {
                        expected += (double)a[r * StrideA + d] * b[r * StrideB + d];
                        magnitude += Math.Abs((double)a[r * StrideA + d] * b[r * StrideB + d]);
                    }
                    Assert.True(Math.Abs(pr[r] - expected) <= Length * 6e-8 * magnitude, $"{count} rows, row {r}: {pr[r]}, expected {expected}");
                }
            }
        }
    }
}
