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
        Check<Vector512<float>, Float512>(test, expected);
        Check<Vector256<float>, Float256>(test, expected);
        Check<Vector128<float>, Float128>(test, expected);
        Check<float, Float1>(test, expected);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(34)]
    [InlineData(80)]
    public void Rotary_EveryWidth_MatchesTheScalarPath(int headDim)
    {
        using var table = new RotaryTable(headDim, 40);
        float[] x = TestData.Uniform(3 * 2 * headDim, headDim);
        float[] scalar = Rotate<float, Float1>(table, x, headDim);
        Assert.Equal(scalar, Rotate<Vector512<float>, Float512>(table, x, headDim));
        Assert.Equal(scalar, Rotate<Vector256<float>, Float256>(table, x, headDim));
        Assert.Equal(scalar, Rotate<Vector128<float>, Float128>(table, x, headDim));
    }

    private static float[] Rotate<TVec, TOps>(RotaryTable table, float[] x, int headDim)
        where TVec : unmanaged
        where TOps : IFloatVector<TVec>
    {
        float[] y = (float[])x.Clone();
        fixed (float* p = y)
        {
            table.Apply<TVec, TOps>(p, 3, 2 * headDim, 2, 30, 1f);
        }
        return y;
    }

    private static void Check<TVec, TOps>(DecodeCase test, double[] expected)
        where TVec : unmanaged
        where TOps : IFloatVector<TVec>
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
            DecodeKernel.Run<TVec, TOps>(test.Cache.Keys(0, kvHead), test.Cache.Values(0, kvHead), d, groups, test.Tokens, test.Past, 0, blocks, scratch);
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
