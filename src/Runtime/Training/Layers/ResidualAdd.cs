using System.Numerics.Tensors;

namespace AttnGen.Training;

/// <summary>A residual connection <c>y = x + branch(x)</c>: the sum and its gradient.</summary>
public static class ResidualAdd
{
    /// <summary><paramref name="output"/> = <paramref name="x"/> + <paramref name="branch"/>.</summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> branch, Span<float> output)
    {
        Guard.Length(branch.Length, 1, 1, x.Length, nameof(branch));
        Guard.Length(output.Length, 1, 1, x.Length, nameof(output));
        TensorPrimitives.Add(x, branch, output);
    }

    /// <summary>
    /// The gradient of a sum reaches both summands unchanged: adds <paramref name="outputGrad"/> into
    /// <paramref name="xGrad"/> and into <paramref name="branchGrad"/> (either may be empty to skip it).
    /// </summary>
    public static void Backward(ReadOnlySpan<float> outputGrad, Span<float> xGrad, Span<float> branchGrad)
    {
        Accumulate(outputGrad, xGrad, nameof(xGrad));
        Accumulate(outputGrad, branchGrad, nameof(branchGrad));
    }

    private static void Accumulate(ReadOnlySpan<float> outputGrad, Span<float> target, string name)
    {
        if (!target.IsEmpty)
        {
            Guard.Length(target.Length, 1, 1, outputGrad.Length, name);
            TensorPrimitives.Add(target, outputGrad, target);
        }
    }
}
