namespace AttnGen.Training.Tests;

public class OptimizerTests
{
    private sealed class Weights : IDisposable
    {
        public readonly AlignedBuffer Value, Gradient;
        public readonly ParameterSet Set = new();

        public Weights(params float[] values)
        {
            Value = new AlignedBuffer(values.Length);
            Gradient = new AlignedBuffer(values.Length);
            values.CopyTo(Value.Span);
            Set.Add(new Parameter("w", Value, Gradient, values.Length));
        }

        public void Dispose()
        {
            Value.Dispose();
            Gradient.Dispose();
        }
    }

    [Fact]
    public void Sgd_first_step_is_lr_times_gradient()
    {
        using var w = new Weights(1f, -2f, 3f);
        using var sgd = new Sgd(w.Set, 0.1f);
        float[] g = [0.5f, -1f, 2f];
        g.CopyTo(w.Gradient.Span);
        sgd.Step();
        float[] expected = [0.95f, -1.9f, 2.8f];
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], w.Value.Span[i], 6);
        }
    }

    [Fact]
    public void Sgd_momentum_second_step_with_constant_gradient_moves_one_plus_mu()
    {
        // b1 = g, w1 = w0 - lr g;  b2 = μ g + g, w2 = w1 - lr (1 + μ) g.
        using var w = new Weights(0f);
        using var sgd = new Sgd(w.Set, 0.5f, momentum: 0.9f);
        w.Gradient.Span[0] = 2f;
        sgd.Step();
        Assert.Equal(-1f, w.Value.Span[0], 6);
        sgd.Step();
        Assert.Equal(-1f - 0.5f * 1.9f * 2f, w.Value.Span[0], 5);
    }

    [Fact]
    public void Sgd_nesterov_first_step_looks_ahead()
    {
        // b1 = g; update g + μ b1 = (1 + μ) g.
        using var w = new Weights(0f);
        using var sgd = new Sgd(w.Set, 0.5f, momentum: 0.9f, nesterov: true);
        w.Gradient.Span[0] = 2f;
        sgd.Step();
        Assert.Equal(-0.5f * 1.9f * 2f, w.Value.Span[0], 5);
        Assert.Throws<ArgumentException>(() => new Sgd(w.Set, 0.1f, nesterov: true));
    }

    [Fact]
    public void Adam_first_step_is_lr_times_sign_of_gradient()
    {
        // m̂ = g, v̂ = g², so the update is lr · g / (|g| + ε) ≈ lr · sign(g) with a tiny ε.
        using var w = new Weights(1f, 1f, 1f, 1f);
        using var adam = new Adam(w.Set, learningRate: 0.01f, epsilon: 1e-12f);
        float[] g = [3f, -0.002f, 1e-3f, -70f];
        g.CopyTo(w.Gradient.Span);
        adam.Step();
        float[] expected = [0.99f, 1.01f, 0.99f, 1.01f];
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], w.Value.Span[i], 6);
        }
    }

    [Fact]
    public void AdamW_first_step_decays_the_weight_then_moves_by_lr_sign()
    {
        using var w = new Weights(2f, -4f);
        using var adamw = new AdamW(w.Set, learningRate: 0.1f, epsilon: 1e-12f, weightDecay: 0.5f);
        float[] g = [1f, 1f];
        g.CopyTo(w.Gradient.Span);
        adamw.Step();
        // w (1 - lr wd) - lr sign(g)
        Assert.Equal(2f * 0.95f - 0.1f, w.Value.Span[0], 6);
        Assert.Equal(-4f * 0.95f - 0.1f, w.Value.Span[1], 6);
    }

    [Fact]
    public void ZeroGrad_clears_every_registered_gradient()
    {
        using var w = new Weights(1f, 2f);
        using var adam = new Adam(w.Set);
        w.Gradient.Span.Fill(3f);
        adam.ZeroGrad();
        Assert.Equal([0f, 0f], w.Gradient.Span.ToArray());
    }

    public static TheoryData<string> Kinds => ["sgd", "momentum", "nesterov", "sgd-l2", "adam", "adam-l2", "adamw"];

    /// <summary>Thirty steps on a quadratic bowl against a float64 implementation written from the papers' update rules.</summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    public void Trajectory_matches_a_float64_reference(string kind)
    {
        // 21 weights: whole vectors and a tail on every vector width the optimizers use (4, 8 or 16 floats).
        double[] start = Enumerable.Range(0, 21).Select(i => new[] { 1.5, -0.7, 0.2, 3.0, -2.5 }[i % 5] * (1 + 0.1 * i)).ToArray();
        double[] curvature = Enumerable.Range(0, 21).Select(i => new[] { 1, 4, 0.5, 2, 8 }[i % 5] * (1 + 0.05 * i)).ToArray();
        using var w = new Weights(start.Select(v => (float)v).ToArray());
        const float lr = 0.02f;
        using Optimizer optimizer = kind switch
        {
            "sgd" => new Sgd(w.Set, lr),
            "momentum" => new Sgd(w.Set, lr, momentum: 0.8f),
            "nesterov" => new Sgd(w.Set, lr, momentum: 0.8f, nesterov: true),
            "sgd-l2" => new Sgd(w.Set, lr, momentum: 0.5f, weightDecay: 0.1f),
            "adam" => new Adam(w.Set, lr),
            "adam-l2" => new Adam(w.Set, lr, weightDecay: 0.1f),
            _ => new AdamW(w.Set, lr, weightDecay: 0.1f),
        };
        var reference = new ReferenceOptimizer(kind, lr, start);
        for (int step = 0; step < 30; step++)
        {
            // f(w) = ½ Σ c_i w_i², gradient c_i w_i, evaluated at the current (float) weights for both.
            Span<float> value = w.Value.Span;
            var gradient = new double[start.Length];
            for (int i = 0; i < start.Length; i++)
            {
                gradient[i] = curvature[i] * value[i];
                w.Gradient.Span[i] = (float)gradient[i];
                reference.Weights[i] = value[i];
            }
            optimizer.Step();
            reference.Step(gradient);
            for (int i = 0; i < start.Length; i++)
            {
                Assert.True(Math.Abs(value[i] - reference.Weights[i]) < 1e-5 * Math.Max(1, Math.Abs(reference.Weights[i])),
                    $"{kind} step {step + 1} w[{i}]: {value[i]} vs {reference.Weights[i]}");
            }
        }
    }

    /// <summary>The update rules in float64, straight from their definitions.</summary>
    private sealed class ReferenceOptimizer(string kind, double lr, double[] start)
    {
        public readonly double[] Weights = (double[])start.Clone();
        private readonly double[] _m = new double[start.Length];
        private readonly double[] _v = new double[start.Length];
        private int _t;

        public void Step(double[] grad)
        {
            _t++;
            for (int i = 0; i < Weights.Length; i++)
            {
                double g = grad[i];
                switch (kind)
                {
                    case "sgd":
                        Weights[i] -= lr * g;
                        break;
                    case "momentum":
                    case "nesterov":
                    case "sgd-l2":
                    {
                        double mu = kind == "sgd-l2" ? 0.5 : 0.8;
                        if (kind == "sgd-l2")
                        {
                            g += 0.1 * Weights[i];
                        }
                        _m[i] = mu * _m[i] + g;
                        Weights[i] -= lr * (kind == "nesterov" ? g + mu * _m[i] : _m[i]);
                        break;
                    }
                    default:
                    {
                        if (kind == "adam-l2")
                        {
                            g += 0.1 * Weights[i];
                        }
                        if (kind == "adamw")
                        {
                            Weights[i] -= lr * 0.1 * Weights[i];
                        }
                        _m[i] = 0.9 * _m[i] + 0.1 * g;
                        _v[i] = 0.999 * _v[i] + 0.001 * g * g;
                        double mHat = _m[i] / (1 - Math.Pow(0.9, _t));
                        double vHat = _v[i] / (1 - Math.Pow(0.999, _t));
                        Weights[i] -= lr * mHat / (Math.Sqrt(vHat) + 1e-8);
                        break;
                    }
                }
            }
        }
    }
}
