using System.Numerics.Tensors;

namespace AttnGen.Kernels.Tests;

/// <summary>
/// The <see cref="AttentionLayerTensorExtensions"/> forms: the same results as the span forms they
/// forward to, the batch read from the tensors, and every wrong shape refused before anything is written.
/// </summary>
public class TensorSpanTests
{
    private const ulong Seed = 11;

    [Fact]
    public void SelfAttentionForwardMatchesTheSpanForm()
    {
        const int batch = 2;
        int[] valid = [37, 20];
        using var layer = new SelfCausal_2x80x37();
        layer.ResetParameters(Seed);
        float[] x = Random(batch * SelfCausal_2x80x37.SeqLen * SelfCausal_2x80x37.ModelDim, 1);
        var expected = new float[x.Length];
        var actual = new float[x.Length];

        layer.Forward(x, expected, batch, valid);
        layer.Forward(Tensor3(x, batch, SelfCausal_2x80x37.SeqLen), new TensorSpan<float>(actual, [batch, SelfCausal_2x80x37.SeqLen, SelfCausal_2x80x37.ModelDim]), valid);

        AssertClose(expected, actual);
    }

    [Fact]
    public void RankTwoTensorsAreABatchOfOne()
    {
        using var layer = new SelfProj_4x24x37_m80();
        layer.ResetParameters(Seed);
        float[] x = Random(SelfProj_4x24x37_m80.SeqLen * SelfProj_4x24x37_m80.ModelDim, 2);
        var expected = new float[x.Length];
        var actual = new float[x.Length];

        layer.Forward(x, expected);
        layer.Forward(new ReadOnlyTensorSpan<float>(x, [SelfProj_4x24x37_m80.SeqLen, SelfProj_4x24x37_m80.ModelDim]),
            new TensorSpan<float>(actual, [SelfProj_4x24x37_m80.SeqLen, SelfProj_4x24x37_m80.ModelDim]));

        AssertClose(expected, actual);
    }

    [Fact]
    public void CrossAttentionForwardTrainAndBackwardMatchTheSpanForms()
    {
        const int batch = 3;
        int[] valid = [37, 1, 20];
        const int s = Cross_4x24_13over37.SeqLen, kv = Cross_4x24_13over37.KvSeqLen, d = Cross_4x24_13over37.ModelDim;
        float[] q = Random(batch * s * d, 3), k = Random(batch * kv * d, 4), v = Random(batch * kv * d, 5), dy = Random(batch * s * d, 6);

        using var spans = new Cross_4x24_13over37();
        spans.ResetParameters(Seed);
        var y1 = new float[q.Length];
        var dq1 = new float[q.Length];
        var dk1 = new float[k.Length];
        var dv1 = new float[v.Length];
        spans.ForwardTrain(q, k, v, y1, batch, valid);
        spans.Backward(dy, dq1, dk1, dv1, batch, valid);

        using var tensors = new Cross_4x24_13over37();
        tensors.ResetParameters(Seed);
        var y2 = new float[q.Length];
        var dq2 = new float[q.Length];
        var dk2 = new float[k.Length];
        var dv2 = new float[v.Length];
        tensors.ForwardTrain(Tensor3(q, batch, s), Tensor3(k, batch, kv), Tensor3(v, batch, kv), Out3(y2, batch, s), valid);
        tensors.Backward(Tensor3(dy, batch, s), Out3(dq2, batch, s), Out3(dk2, batch, kv), Out3(dv2, batch, kv), valid);

        Assert.Equal(y1, y2);
        Assert.Equal(dq1, dq2);
        Assert.Equal(dk1, dk2);
        Assert.Equal(dv1, dv2);
        Assert.Equal(spans.GradientBlock.ToArray(), tensors.GradientBlock.ToArray());

        var y3 = new float[q.Length];
        tensors.Forward(Tensor3(q, batch, s), Tensor3(k, batch, kv), Tensor3(v, batch, kv), Out3(y3, batch, s), valid);
        AssertClose(y1, y3);
    }

    [Fact]
    public void SelfAttentionBackwardMatchesTheSpanForm()
    {
        const int batch = 2;
        int[] valid = [33, 9];
        const int s = GqaCausal_6kv2x16x33.SeqLen, d = GqaCausal_6kv2x16x33.ModelDim;
        float[] x = Random(batch * s * d, 7), dy = Random(batch * s * d, 8);

        using var spans = new GqaCausal_6kv2x16x33();
        spans.ResetParameters(Seed);
        var y1 = new float[x.Length];
        var dx1 = new float[x.Length];
        spans.ForwardTrain(x, y1, batch, valid);
        spans.Backward(dy, dx1, batch, valid);

        using var tensors = new GqaCausal_6kv2x16x33();
        tensors.ResetParameters(Seed);
        var y2 = new float[x.Length];
        var dx2 = new float[x.Length];
        tensors.ForwardTrain(Tensor3(x, batch, s), Out3(y2, batch, s), valid);
        tensors.Backward(Tensor3(dy, batch, s), Out3(dx2, batch, s), valid);

        AssertClose(y1, y2);
        AssertClose(dx1, dx2);
        AssertClose(spans.GradientBlock.ToArray(), tensors.GradientBlock.ToArray());
    }

    [Theory]
    [InlineData(new[] { 2, 37 }, "'input' has shape [2, 37]; expected [batch, 37, 160] with batch at least 1, or [37, 160].")]
    [InlineData(new[] { 2, 37, 159 }, "'input' has shape [2, 37, 159]; expected [batch, 37, 160] with batch at least 1, or [37, 160].")]
    [InlineData(new[] { 0, 37, 160 }, "'input' has shape [0, 37, 160]; expected [batch, 37, 160] with batch at least 1, or [37, 160].")]
    [InlineData(new[] { 1, 2, 37, 160 }, "'input' has shape [1, 2, 37, 160]; expected [batch, 37, 160] with batch at least 1, or [37, 160].")]
    public void WrongInputShapesAreRefused(int[] shape, string message)
    {
        using var layer = new SelfCausal_2x80x37();
        nint[] lengths = shape.Select(n => (nint)n).ToArray();
        var data = new float[shape.Aggregate(1, (a, b) => a * b)];
        float[] output = Sentinel(2 * 37 * 160);

        var ex = Assert.Throws<ArgumentException>(() => layer.Forward(new ReadOnlyTensorSpan<float>(data, lengths), new TensorSpan<float>(output, [2, 37, 160])));

        Assert.Equal("input", ex.ParamName);
        Assert.StartsWith(message, ex.Message, StringComparison.Ordinal);
        Assert.All(output, f => Assert.True(float.IsNaN(f)));
    }

    [Fact]
    public void OutputBatchMustMatchTheInputs()
    {
        using var layer = new SelfCausal_2x80x37();
        float[] output = Sentinel(3 * 37 * 160);

        var ex = Assert.Throws<ArgumentException>(() =>
            layer.Forward(new ReadOnlyTensorSpan<float>(new float[2 * 37 * 160], [2, 37, 160]), new TensorSpan<float>(output, [3, 37, 160])));

        Assert.Equal("output", ex.ParamName);
        Assert.StartsWith("'output' has shape [3, 37, 160]; expected [2, 37, 160] (batch 2 from 'input').", ex.Message, StringComparison.Ordinal);
        Assert.All(output, f => Assert.True(float.IsNaN(f)));
    }

    [Fact]
    public void KeyBatchMustMatchTheQuery()
    {
        using var layer = new Cross_4x24_13over37();
        const int d = Cross_4x24_13over37.ModelDim;
        float[] output = Sentinel(2 * 13 * d);

        var ex = Assert.Throws<ArgumentException>(() => layer.Forward(
            new ReadOnlyTensorSpan<float>(new float[2 * 13 * d], [2, 13, d]),
            new ReadOnlyTensorSpan<float>(new float[1 * 37 * d], [1, 37, d]),
            new ReadOnlyTensorSpan<float>(new float[2 * 37 * d], [2, 37, d]),
            new TensorSpan<float>(output, [2, 13, d])));

        Assert.Equal("key", ex.ParamName);
        Assert.StartsWith($"'key' has shape [1, 37, {d}]; expected [2, 37, {d}] (batch 2 from 'query').", ex.Message, StringComparison.Ordinal);
        Assert.All(output, f => Assert.True(float.IsNaN(f)));
    }

    [Fact]
    public void StridedTensorsAreRefused()
    {
        using var layer = new SelfProj_4x24x37_m80();
        const int s = SelfProj_4x24x37_m80.SeqLen, d = SelfProj_4x24x37_m80.ModelDim;
        // Every other row of a [2 * s, d] buffer: the right shape, but not contiguous.
        var data = new float[2 * s * d];
        float[] output = Sentinel(s * d);

        var ex = Assert.Throws<ArgumentException>(() => layer.Forward(
            new ReadOnlyTensorSpan<float>(data, [1, s, d], [0, 2 * d, 1]), new TensorSpan<float>(output, [1, s, d])));

        Assert.Equal("input", ex.ParamName);
        Assert.Contains("expected a dense row-major tensor", ex.Message, StringComparison.Ordinal);
        Assert.All(output, f => Assert.True(float.IsNaN(f)));
    }

    [Fact]
    public void CrossLayerNeedsQueryKeyAndValue()
    {
        using var layer = new Cross_4x24_13over37();
        const int d = Cross_4x24_13over37.ModelDim;

        var ex = Assert.Throws<ArgumentException>(() =>
            layer.Forward(new ReadOnlyTensorSpan<float>(new float[13 * d], [13, d]), new TensorSpan<float>(new float[13 * d], [13, d])));

        Assert.Equal("input", ex.ParamName);
        Assert.Contains("is a cross-attention layer (SeqLen 13, KvSeqLen 37); pass query, key and value tensors", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BackwardGradientShapesAreChecked()
    {
        using var layer = new Cross_4x24_13over37();
        const int d = Cross_4x24_13over37.ModelDim;
        float[] queryGrad = Sentinel(13 * d);

        var ex = Assert.Throws<ArgumentException>(() => layer.Backward(
            new ReadOnlyTensorSpan<float>(new float[13 * d], [1, 13, d]),
            new TensorSpan<float>(queryGrad, [1, 13, d]),
            new TensorSpan<float>(new float[37 * d], [1, 37, d]),
            new TensorSpan<float>(new float[36 * d], [1, 36, d])));

        Assert.Equal("valueGrad", ex.ParamName);
        Assert.StartsWith($"'valueGrad' has shape [1, 36, {d}]; expected [1, 37, {d}] (batch 1 from 'outputGrad').", ex.Message, StringComparison.Ordinal);
        Assert.All(queryGrad, f => Assert.True(float.IsNaN(f)));
    }

    private static ReadOnlyTensorSpan<float> Tensor3(float[] data, int batch, int rows)
        => new(data, [batch, rows, data.Length / batch / rows]);

    private static TensorSpan<float> Out3(float[] data, int batch, int rows)
        => new(data, [batch, rows, data.Length / batch / rows]);

    private static float[] Random(int length, ulong stream)
    {
        var values = new float[length];
        new SeededRandom(Seed * 100 + stream).FillUniform(values, -1f, 1f);
        return values;
    }

    private static float[] Sentinel(int length)
    {
        var values = new float[length];
        Array.Fill(values, float.NaN);
        return values;
    }

    /// <summary>Equal, or within float rounding where the two forms add the same terms in another order.</summary>
    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            float tolerance = 1e-5f * Math.Max(1f, Math.Abs(expected[i]));
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"element {i}: expected {expected[i]}, actual {actual[i]}");
        }
    }
}
