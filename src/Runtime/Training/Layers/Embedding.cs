using System.Numerics.Tensors;

namespace AttnGen.Training;

/// <summary>
/// A lookup table <c>weight [Count, Dim]</c>: id <c>i</c> becomes row <c>i</c> (PyTorch's <c>nn.Embedding</c>).
/// An optional padding id maps to a row that stays zero and receives no gradient.
/// </summary>
public sealed class Embedding : ITrainable, IDisposable
{
    private readonly AlignedBuffer _weight;
    private readonly AlignedBuffer _weightGrad;

    /// <summary>Creates a table of <paramref name="count"/> rows of <paramref name="dim"/> floats, all zero.</summary>
    /// <param name="count">Number of ids.</param>
    /// <param name="dim">Width of a row.</param>
    /// <param name="paddingId">An id whose row is kept at zero (PyTorch's <c>padding_idx</c>), or -1 for none.</param>
    public Embedding(int count, int dim, int paddingId = -1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dim);
        ArgumentOutOfRangeException.ThrowIfLessThan(paddingId, -1);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(paddingId, count);
        Count = count;
        Dim = dim;
        PaddingId = paddingId;
        _weight = new AlignedBuffer(checked(count * dim));
        _weightGrad = new AlignedBuffer(_weight.Length);
        Parameters.Add(new Parameter("weight", _weight, _weightGrad, count, dim));
    }

    /// <summary>Number of ids.</summary>
    public int Count { get; }

    /// <summary>Width of a row.</summary>
    public int Dim { get; }

    /// <summary>The padding id, or -1.</summary>
    public int PaddingId { get; }

    /// <summary><c>weight</c>.</summary>
    public ParameterSet Parameters { get; } = new();

    /// <summary><c>[Count, Dim]</c>.</summary>
    public Span<float> Weight => _weight.Span;

    /// <summary>Fills the table by <paramref name="init"/> (default N(0, 1) as PyTorch), then zeroes the padding row.</summary>
    public void ResetParameters(ulong seed, InitKind init = InitKind.StandardNormal)
    {
        var random = new SeededRandom(seed);
        ParameterInit.Fill(Weight, init, Dim, Count, ref random);
        if (PaddingId >= 0)
        {
            Weight.Slice(PaddingId * Dim, Dim).Clear();
        }
    }

    /// <summary>Writes row <c>ids[i]</c> to <paramref name="output"/> row <c>i</c> (<paramref name="output"/> is <c>[ids.Length, Dim]</c>).</summary>
    /// <exception cref="ArgumentException">A length is wrong or an id is out of range; nothing is written.</exception>
    public void Forward(ReadOnlySpan<int> ids, Span<float> output)
    {
        CheckIds(ids);
        Guard.Length(output.Length, ids.Length, 1, Dim, nameof(output));
        ReadOnlySpan<float> weight = Weight;
        for (int i = 0; i < ids.Length; i++)
        {
            weight.Slice(ids[i] * Dim, Dim).CopyTo(output.Slice(i * Dim, Dim));
        }
    }

    /// <summary>Accumulates <paramref name="outputGrad"/> row <c>i</c> into the gradient of row <c>ids[i]</c> (skipping the padding id).</summary>
    /// <exception cref="ArgumentException">A length is wrong or an id is out of range; nothing is accumulated.</exception>
    public void Backward(ReadOnlySpan<int> ids, ReadOnlySpan<float> outputGrad)
    {
        CheckIds(ids);
        Guard.Length(outputGrad.Length, ids.Length, 1, Dim, nameof(outputGrad));
        Span<float> grad = _weightGrad.Span;
        for (int i = 0; i < ids.Length; i++)
        {
            if (ids[i] == PaddingId)
            {
                continue;
            }
            Span<float> row = grad.Slice(ids[i] * Dim, Dim);
            TensorPrimitives.Add(row, outputGrad.Slice(i * Dim, Dim), row);
        }
    }

    private void CheckIds(ReadOnlySpan<int> ids)
    {
        for (int i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] >= (uint)Count)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), ids[i], $"'ids[{i}]' is {ids[i]}; expected an id in 0..{Count - 1}.");
            }
        }
    }

    /// <summary>Frees the parameter and gradient buffers.</summary>
    public void Dispose()
    {
        _weight.Dispose();
        _weightGrad.Dispose();
    }
}
