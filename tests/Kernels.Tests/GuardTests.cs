using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace AttnGen.Kernels.Tests;

/// <summary>Rejected calls: a typed exception that names the argument and the sizes, and nothing written.</summary>
public sealed class GuardTests
{
    private const float Sentinel = -12345f;

    private static (Cross_4x24_13over37 Layer, float[] Q, float[] K, float[] V, float[] Output) Setup(int batch)
    {
        var layer = new Cross_4x24_13over37();
        layer.ResetParameters(1);
        var output = new float[batch * Cross_4x24_13over37.SeqLen * Cross_4x24_13over37.ModelDim];
        Array.Fill(output, Sentinel);
        return (layer,
            TestData.Uniform(batch * Cross_4x24_13over37.SeqLen * Cross_4x24_13over37.QueryInputWidth, 1),
            TestData.Uniform(batch * Cross_4x24_13over37.KvSeqLen * Cross_4x24_13over37.KvInputWidth, 2),
            TestData.Uniform(batch * Cross_4x24_13over37.KvSeqLen * Cross_4x24_13over37.KvInputWidth, 3),
            output);
    }

    private static void AssertUntouched(float[] output) => Assert.All(output, x => Assert.Equal(Sentinel, x));

    [Fact]
    public void WrongQueryLength_NamesArgumentAndSizes()
    {
        var (layer, q, k, v, y) = Setup(2);
        using (layer)
        {
            var e = Assert.Throws<ArgumentException>(() => layer.Forward(q.AsSpan(1), k, v, y, 2));
            Assert.Equal("query", e.ParamName);
            Assert.Contains($"length {q.Length - 1}", e.Message);
            Assert.Contains($"expected {q.Length} = batch 2 x 13 rows x 96 columns", e.Message);
            AssertUntouched(y);
        }
    }

    [Theory]
    [InlineData("key")]
    [InlineData("value")]
    [InlineData("output")]
    public void WrongOtherLengths_NameTheArgument(string which)
    {
        var (layer, q, k, v, y) = Setup(2);
        using (layer)
        {
            float[] longer = new float[(which == "output" ? y.Length : k.Length) + 3];
            Array.Fill(longer, Sentinel);
            var e = Assert.Throws<ArgumentException>(() =>
            {
                switch (which)
                {
                    case "key": layer.Forward(q, longer, v, y, 2); break;
                    case "value": layer.Forward(q, k, longer, y, 2); break;
                    default: layer.Forward(q, k, v, longer, 2); break;
                }
            });
            Assert.Equal(which, e.ParamName);
            AssertUntouched(which == "output" ? longer : y);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void BatchBelowOne_Throws(int batch)
    {
        var (layer, q, k, v, y) = Setup(1);
        using (layer)
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => layer.Forward(q, k, v, y, batch));
            Assert.Equal("batch", e.ParamName);
            Assert.Contains("at least 1", e.Message);
            AssertUntouched(y);
        }
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(38)]
    public void ValidLengthOutOfRange_NamesTheItem(int bad)
    {
        var (layer, q, k, v, y) = Setup(2);
        using (layer)
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => layer.Forward(q, k, v, y, 2, [37, bad]));
            Assert.Equal("validLengths", e.ParamName);
            Assert.Contains($"'validLengths[1]' is {bad}; expected a valid length in 0..37", e.Message);
            AssertUntouched(y);
        }
    }

    [Fact]
    public void ValidLengthsOfWrongCount_Throws()
    {
        var (layer, q, k, v, y) = Setup(2);
        using (layer)
        {
            var e = Assert.Throws<ArgumentException>(() => layer.Forward(q, k, v, y, 2, [5]));
            Assert.Contains("expected 2 (one valid length per batch item)", e.Message);
            AssertUntouched(y);
        }
    }

    [Fact]
    public void DisposedLayer_Throws()
    {
        var (layer, q, k, v, y) = Setup(1);
        layer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => layer.Forward(q, k, v, y, 1));
        AssertUntouched(y);
    }

    [Fact]
    public void MaxDegreeOfParallelismBelowOne_Throws()
    {
        using var layer = new Core_3x3x37();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => layer.MaxDegreeOfParallelism = 0);
        Assert.Equal(Environment.ProcessorCount, layer.MaxDegreeOfParallelism);
        Assert.Contains("at least 1", e.Message);
    }

    [Fact]
    public void UnsupportedIsa_IsRefused_AndTheOldPathKept()
    {
        using var layer = new Core_3x3x37();
        KernelIsa before = layer.Isa;
        KernelIsa unsupported = Enum.GetValues<KernelIsa>().Where(i => !KernelIsaSupport.IsSupported(i)).DefaultIfEmpty((KernelIsa)99).First();
        var e = Assert.Throws<NotSupportedException>(() => layer.Isa = unsupported);
        Assert.Contains("cannot run in this process", e.Message);
        Assert.Equal(before, layer.Isa);
    }

    [Fact]
    public void UnknownParameterName_ListsTheKnownOnes()
    {
        using var layer = new Additive_2x24x19();
        var e = Assert.Throws<ArgumentException>(() => layer.GetParameter("q_proj.weight"));
        Assert.Contains("in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias, additive_v", e.Message);
    }

    /// <summary>
    /// The default path is the widest this process supports. The test runner sets ATTNGEN_EXPECT_ISA when it
    /// turns instruction sets off (DOTNET_EnableAVX512=0 and so on) or runs under Arm emulation, so a switch
    /// that silently did nothing would fail here; without it the expectation comes from the intrinsics classes.
    /// </summary>
    [Fact]
    public void DefaultPath_IsTheExpectedOne()
    {
        string? expectedText = Environment.GetEnvironmentVariable("ATTNGEN_EXPECT_ISA");
        KernelIsa expected = expectedText is { Length: > 0 }
            ? Enum.Parse<KernelIsa>(expectedText)
            : Avx512F.IsSupported && Fma.IsSupported ? KernelIsa.Avx512
            : Avx2.IsSupported && Fma.IsSupported ? KernelIsa.Avx2
            : AdvSimd.IsSupported || Vector128.IsHardwareAccelerated ? KernelIsa.Vector128
            : KernelIsa.Scalar;
        using var layer = new Core_3x3x37();
        Assert.Equal(expected, KernelIsaSupport.Best);
        Assert.Equal(expected, layer.Isa);
    }
}
