using System.Numerics.Tensors;

namespace AttnGen.Training;

/// <summary>Gradient clipping.</summary>
public static class GradientClipping
{
    /// <summary>
    /// Scales all gradients of <paramref name="parameters"/> together so that their global L2 norm is at most
    /// <paramref name="maxNorm"/> (factor <c>maxNorm / (norm + 1e-6)</c>, as PyTorch's <c>clip_grad_norm_</c>),
    /// and returns the norm before clipping.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is not positive.</exception>
    public static float ClipByGlobalNorm(ParameterSet parameters, float maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "The largest allowed norm must be above 0.");
        }
        double norm = parameters.GradientNorm();
        double factor = maxNorm / (norm + 1e-6);
        if (factor < 1)
        {
            foreach (Parameter p in parameters)
            {
                Span<float> g = p.Gradient;
                TensorPrimitives.Multiply(g, (float)factor, g);
            }
        }
        return (float)norm;
    }
}
