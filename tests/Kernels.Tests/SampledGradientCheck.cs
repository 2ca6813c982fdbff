namespace AttnGen.Kernels.Tests;

/// <summary>
/// Backward on every path this process can run against central finite differences of a float64 reference: for
/// L = Σ R ∘ output with random R, the query, key and value gradients and the accumulated parameter gradients must
/// match (L(x + h) − L(x − h)) / 2h at sampled coordinates. The finite differences depend only on the layer, so they
/// are taken once and every path's backward is held to them (the float64 reference is the slow part, under
/// emulation most of all).
/// </summary>
public static class SampledGradientCheck
{
    /// <summary>
    /// Runs the check. <paramref name="reference"/> maps (parameter block, query, key, value), all in double, to the
    /// output; the layer's parameters and <paramref name="x"/> are the point; <paramref name="samples"/> coordinates
    /// of each tensor and parameter are drawn with <paramref name="seed"/>.
    /// </summary>
    public static void OnEveryPath(IAttentionLayer layer, TestData.Inputs x, float[] r, int batch, int[]? valid,
        Func<double[], double[], double[], double[], double[]> reference, double step, double tolerance, int samples, int seed)
    {
        AttentionLayerInfo info = layer.Info;
        static double[] ToDouble(float[] values) => Array.ConvertAll(values, f => (double)f);
        double[] block = ToDouble(layer.ParameterBlock.ToArray());
        double[] q = ToDouble(x.Query), k = ToDouble(x.Key), v = ToDouble(x.Value);
        double Loss()
        {
            double[] y = reference(block, q, k, v);
            double sum = 0;
            for (int i = 0; i < y.Length; i++) sum += r[i] * y[i];
            return sum;
        }
        double Difference(double[] target, int index)
        {
            double saved = target[index];
            target[index] = saved + step;
            double plus = Loss();
            target[index] = saved - step;
            double minus = Loss();
            target[index] = saved;
            return (plus - minus) / (2 * step);
        }

        // What each gradient is checked at: the input gradients by name, the parameters within the block.
        var random = new Random(seed);
        int[] Indices(int length) => Enumerable.Range(0, Math.Min(samples, length)).Select(_ => random.Next(length)).ToArray();
        var checks = new List<(string Name, int Gradient, int[] Indices, double[] Expected)>();
        void Add(string name, int gradient, double[] target, int[] indices)
            => checks.Add((name, gradient, indices, indices.Select(i => Difference(target, i)).ToArray()));
        Add("query", 0, q, Indices(q.Length));
        Add("key", 1, k, Indices(k.Length));
        Add("value", 2, v, Indices(v.Length));
        foreach (LayerParameter p in layer.Parameters)
        {
            Add(p.Name, 3, block, Indices(p.Length).Select(i => p.Offset + i).ToArray());
        }

        foreach (KernelIsa isa in KernelIsaSupport.Supported)
        {
            layer.Isa = isa;
            var dq = new float[x.Query.Length];
            var dk = new float[x.Key.Length];
            var dv = new float[x.Value.Length];
            layer.ZeroGradients();
            layer.ForwardTrain(x.Query, x.Key, x.Value, x.Output, batch, valid);
            layer.Backward(r, dq, dk, dv, batch, valid);
            Assert.Equal(isa, ((IKernelPathReport)layer).LastBackwardIsa);
            float[][] gradients = [dq, dk, dv, layer.GradientBlock.ToArray()];

            foreach (var (name, which, indices, expected) in checks)
            {
                float[] gradient = gradients[which];
                double scale = 1e-3;
                foreach (float g in gradient) scale = Math.Max(scale, Math.Abs(g));
                for (int n = 0; n < indices.Length; n++)
                {
                    double error = Math.Abs(gradient[indices[n]] - expected[n]) / scale;
                    Assert.True(error <= tolerance,
                        $"{info.Name} on {isa}: d/d{name}[{indices[n]}] = {gradient[indices[n]]}, finite difference {expected[n]} (relative error {error:E2})");
                }
            }
        }
    }
}
