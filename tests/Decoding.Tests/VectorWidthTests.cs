using System.Runtime.Intrinsics;
using AttnGen.Kernels.Tests;

namespace AttnGen.Decoding.Tests;

/// <summary>
/// The width-generic kernels instantiated for every vector width whatever this processor has: .NET runs
/// Vector512 and Vector256 code without the hardware (in software), so the 16-lane masking, reductions and
/// tails of the AVX-512 path are checked on machines without AVX-512 too. The dispatch tests in
/// <see cref="DecodeAttentionTests"/> cover the paths the hardware runs.
/// </summary>
public sealed unsafe class VectorWidthTests
{
    [Theory]
    [InlineData(4, 1, 64, 37, 3)]
    [InlineData(1, 1, 80, 100, 1)]
    [InlineData(2, 2, 3, 16, 7)]
    [InlineData(1, 1, 1, 15, 2)]
    public void DecodeKernel_EveryWidth_MatchesTheFloat64Reference(int groups, int kvHeads, int headDim, int past, int tokens)
    {
        int heads = groups * kvHeads;
        using var test = new DecodeCase(1, heads, kvHeads, headDim, past, tokens, past + tokens + 5, seed: 17);
        double[] expected = test.Reference(1);
        Check<Vector512Ops, Vector512<float>>(test, expected);
        Check<Vector256Ops, Vector256<float>>(test, expected);
        Check<Vector128Ops, Vector128<float>>(test, expected);
        Check<ScalarOps, float>(test, expected);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(34)]
    [InlineData(80)]
    public void Rotary_EveryWidth_MatchesTheFloat64Reference_AndTheScalarPathBitForBit(int headDim)
    {
        using var table = new RotaryTable(headDim, 40);
        float[] x = TestData.Uniform(3 * 2 * headDim, headDim);
        double[] expected = RotaryReference(table, x, headDim);
        float[] scalar = Rotate<ScalarOps, float>(table, x, headDim);
        CheckRotary(expected, scalar, nameof(ScalarOps));
        foreach ((string name, float[] y) in new[]
        {
            (nameof(Vector512Ops), Rotate<Vector512Ops, Vector512<float>>(table, x, headDim)),
            (nameof(Vector256Ops), Rotate<Vector256Ops, Vector256<float>>(table, x, headDim)),
            (nameof(Vector128Ops), Rotate<Vector128Ops, Vector128<float>>(table, x, headDim)),
        })
        {
            CheckRotary(expected, y, name);
            // Two products and one sum per element on every path, no fused multiply-add: the same bits.
            Assert.Equal(scalar, y);
        }
    }

    // Rows 30..32 of the table, two heads per row, in float64 from the table's own cos and sin.
    private static double[] RotaryReference(RotaryTable table, float[] x, int headDim)
    {
        var y = new double[x.Length];
        int half = headDim / 2;
        for (int row = 0; row < 3; row++)
        {
            for (int head = 0; head < 2; head++)
            {
                int at = (row * 2 + head) * headDim;
                for (int i = 0; i < half; i++)
                {
                    double c = table.Cos(30 + row, i), s = table.Sin(30 + row, i), a = x[at + i], b = x[at + half + i];
                    y[at + i] = a * c - b * s;
                    y[at + half + i] = b * c + a * s;
                }
            }
        }
        return y;
    }

    private static void CheckRotary(double[] expected, float[] actual, string path)
    {
        double error = TestData.RelativeError(actual, expected).Error;
        Assert.True(error <= 1e-6, $"{path}: relative error {error:G3}");
    }

    private static float[] Rotate<TOps, TVec>(RotaryTable table, float[] x, int headDim)
        where TOps : struct, IVectorOps<TVec>
        where TVec : struct
    {
        float[] y = (float[])x.Clone();
        fixed (float* p = y)
        {
            table.Apply<TOps, TVec>(p, 3, 2 * headDim, 2, 30, 1f);
        }
        return y;
    }

    private static void Check<TOps, TVec>(DecodeCase test, double[] expected)
        where TOps : struct, IVectorOps<TVec>
        where TVec : struct
    {
        int groups = test.Heads / test.KvHeads, d = test.HeadDim, rows = groups * test.Tokens;
        int blocks = (test.Past + test.Tokens + KvCache.BlockSize - 1) / KvCache.BlockSize;
        using var buffer = new AlignedBuffer((int)DecodeKernel.ScratchFloats(rows, d));
        var scratch = new DecodeKernel.Scratch(buffer.Pointer, rows, d);
        var actual = new float[expected.Length];
        for (int kvHead = 0; kvHead < test.KvHeads; kvHead++)
        {
            for (int r = 0; r < rows; r++)
            {
                int t = r / groups, h = kvHead * groups + r % groups;
                test.Queries.AsSpan((t * test.Heads + h) * d, d).CopyTo(new Span<float>(scratch.Queries + r * d, d));
            }
            DecodeKernel.Run<TOps, TVec>(test.Cache.Keys(0, kvHead), test.Cache.Values(0, kvHead), d, groups, test.Tokens, test.Past, 0, blocks, scratch);
            for (int r = 0; r < rows; r++)
            {
                int t = r / groups, h = kvHead * groups + r % groups;
                for (int e = 0; e < d; e++)
                {
                    actual[(t * test.Heads + h) * d + e] = scratch.Output[r * d + e] / scratch.Sum[r];
                }
            }
        }
        double error = TestData.RelativeError(actual, expected).Error;
        Assert.True(error <= 1e-5, $"{typeof(TOps).Name}: relative error {error:G3}");
    }
}
