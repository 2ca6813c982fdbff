using static AttnGen.Training.Tests.GradientCheck;

namespace AttnGen.Training.Tests;

public class LayerGradientTests
{
    [Fact]
    public void Linear_matches_reference_and_finite_differences()
    {
        const int rows = 3, inF = 5, outF = 4;
        using var layer = new Linear(inF, outF);
        layer.ResetParameters(7);
        float[] x = Random(rows * inF, 1), r = Random(rows * outF, 2);
        (double[] w, double[] b, double[] xd, float[] dx) = ForwardAndBackward(layer, rows, x, r);
        double[] rd = ToDouble(r);
        Check(dx, x, p => Dot(rd, References.Linear(p, w, b, rows, inF, outF)), "dx");
        Check(layer.Parameters["weight"].Gradient, layer.Weight, p => Dot(rd, References.Linear(xd, p, b, rows, inF, outF)), "dW");
        Check(layer.Parameters["bias"].Gradient, layer.Bias, p => Dot(rd, References.Linear(xd, w, p, rows, inF, outF)), "db");
    }

    /// <summary>
    /// Shapes past the blocked products' edges (4-row blocks, two-vector column blocks, remainders of both, the
    /// few-row forward that keeps the dot kernel): forward, dx, dW and db against float64 sums written out here.
    /// </summary>
    [Theory]
    [InlineData(13, 37, 21)]
    [InlineData(8, 64, 256)]
    [InlineData(9, 16, 33)]
    [InlineData(7, 40, 19)]
    [InlineData(1, 5, 3)]
    public void Linear_blocked_products_match_float64_sums(int rows, int inF, int outF)
    {
        using var layer = new Linear(inF, outF);
        layer.ResetParameters(11);
        float[] x = Random(rows * inF, 12), dy = Random(rows * outF, 13);
        (double[] w, _, double[] xd, float[] dx) = ForwardAndBackward(layer, rows, x, dy);
        double[] expectedDx = new double[rows * inF], expectedDw = new double[outF * inF], expectedDb = new double[outF];
        for (int r = 0; r < rows; r++)
        {
            for (int o = 0; o < outF; o++)
            {
                double g = dy[r * outF + o];
                expectedDb[o] += g;
                for (int i = 0; i < inF; i++)
                {
                    expectedDx[r * inF + i] += g * w[o * inF + i];
                    expectedDw[o * inF + i] += g * xd[r * inF + i];
                }
            }
        }
        AssertClose(dx, expectedDx, "dx", 1e-6);
        AssertClose(layer.Parameters["weight"].Gradient, expectedDw, "dW", 1e-6);
        AssertClose(layer.Parameters["bias"].Gradient, expectedDb, "db", 1e-6);
    }

    /// <summary>Checks the forward of <paramref name="x"/> against the float64 reference, then runs one backward of <paramref name="dy"/> from zero gradients.</summary>
    private static (double[] W, double[] B, double[] X, float[] Dx) ForwardAndBackward(Linear layer, int rows, float[] x, float[] dy)
    {
        var y = new float[rows * layer.OutFeatures];
        layer.Forward(x, y, rows);
        double[] w = ToDouble(layer.Weight), b = ToDouble(layer.Bias), xd = ToDouble(x);
        AssertClose(y, References.Linear(xd, w, b, rows, layer.InFeatures, layer.OutFeatures), "y", 1e-6);
        var dx = new float[x.Length];
        layer.Parameters.ZeroGradients();
        layer.Backward(x, dy, dx, rows);
        return (w, b, xd, dx);
    }

    [Fact]
    public void Linear_backward_accumulates_parameter_gradients()
    {
        using var layer = new Linear(3, 2);
        layer.ResetParameters(1);
        float[] x = Random(6, 3), r = Random(4, 4);
        layer.Backward(x, r, default, 2);
        float[] once = layer.Parameters["weight"].Gradient.ToArray();
        layer.Backward(x, r, default, 2);
        float[] twice = layer.Parameters["weight"].Gradient.ToArray();
        for (int i = 0; i < once.Length; i++)
        {
            Assert.Equal(2 * once[i], twice[i], 6);
        }
    }

    [Fact]
    public void LayerNorm_matches_reference_and_finite_differences()
    {
        const int rows = 4, dim = 7;
        using var layer = new LayerNorm(dim);
        Random(dim, 11, 1.5f).CopyTo(layer.Weight);
        Random(dim, 12).CopyTo(layer.Bias);
        float[] x = Random(rows * dim, 13, 3f), r = Random(rows * dim, 14);
        var y = new float[x.Length];
        layer.Forward(x, y, rows);
        double[] g = ToDouble(layer.Weight), b = ToDouble(layer.Bias), xd = ToDouble(x), rd = ToDouble(r);
        const double eps = 1e-5;
        AssertClose(y, References.LayerNorm(xd, g, b, rows, dim, eps), "y", 1e-5);

        var dx = new float[x.Length];
        layer.Backward(x, r, dx, rows);
        Check(dx, x, p => Dot(rd, References.LayerNorm(p, g, b, rows, dim, eps)), "dx");
        Check(layer.Parameters["weight"].Gradient, layer.Weight, p => Dot(rd, References.LayerNorm(xd, p, b, rows, dim, eps)), "dgamma");
        Check(layer.Parameters["bias"].Gradient, layer.Bias, p => Dot(rd, References.LayerNorm(xd, g, p, rows, dim, eps)), "dbeta");
    }

    [Fact]
    public void Embedding_gathers_rows_and_accumulates_gradients()
    {
        const int count = 6, dim = 3;
        using var layer = new Embedding(count, dim);
        layer.ResetParameters(5);
        int[] ids = [4, 1, 4, 0, 5];
        float[] r = Random(ids.Length * dim, 6);
        var y = new float[ids.Length * dim];
        layer.Forward(ids, y);
        double[] rd = ToDouble(r);
        double Objective(double[] w)
        {
            double sum = 0;
            for (int i = 0; i < ids.Length; i++)
            {
                for (int d = 0; d < dim; d++)
                {
                    sum += rd[i * dim + d] * w[ids[i] * dim + d];
                }
            }
            return sum;
        }
        Assert.Equal(layer.Weight.Slice(4 * dim, dim).ToArray(), y.AsSpan(0, dim).ToArray());
        layer.Backward(ids, r);
        Check(layer.Parameters["weight"].Gradient, layer.Weight, Objective, "dW");
    }

    [Fact]
    public void Embedding_padding_row_stays_zero_and_gets_no_gradient()
    {
        using var layer = new Embedding(4, 2, paddingId: 0);
        layer.ResetParameters(3);
        Assert.Equal([0f, 0f], layer.Weight[..2].ToArray());
        layer.Backward([0, 2, 0], [1f, 1f, 2f, 2f, 3f, 3f]);
        Span<float> grad = layer.Parameters["weight"].Gradient;
        Assert.Equal([0f, 0f], grad[..2].ToArray());
        Assert.Equal([2f, 2f], grad.Slice(4, 2).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => layer.Forward([4], new float[2]));
    }

    [Fact]
    public void MeanPooling_averages_valid_positions_only()
    {
        const int batch = 3, seqLen = 5, dim = 4;
        int[] valid = [3, 0, 5];
        var pool = new MeanPooling(seqLen, dim);
        float[] x = Random(batch * seqLen * dim, 21), r = Random(batch * dim, 22);
        var y = new float[batch * dim];
        pool.Forward(x, y, batch, valid);
        double[] rd = ToDouble(r);
        AssertClose(y, References.MeanPool(ToDouble(x), batch, seqLen, dim, valid), "y", 1e-6);
        var dx = new float[x.Length];
        dx.AsSpan().Fill(float.NaN); // every element must be written
        pool.Backward(r, dx, batch, valid);
        Check(dx, x, p => Dot(rd, References.MeanPool(p, batch, seqLen, dim, valid)), "dx");
    }

    [Fact]
    public void ResidualAdd_sends_the_gradient_to_both_summands()
    {
        float[] a = [1, 2], b = [10, 20], y = new float[2];
        ResidualAdd.Forward(a, b, y);
        Assert.Equal([11f, 22f], y);
        float[] da = [1, 1], db = [0, 0];
        ResidualAdd.Backward([0.5f, -1f], da, db);
        Assert.Equal([1.5f, 0f], da);
        Assert.Equal([0.5f, -1f], db);
    }
}
