using System.Collections;
using System.Numerics.Tensors;

namespace AttnGen.Training;

/// <summary>
/// An ordered list of named <see cref="Parameter"/>s: what a layer or a model exposes to optimizers,
/// gradient clipping and checkpoints. Names are unique within a set.
/// </summary>
public sealed class ParameterSet : IReadOnlyList<Parameter>
{
    private readonly List<Parameter> _items = [];

    /// <summary>Number of parameters.</summary>
    public int Count => _items.Count;

    /// <summary>Total number of floats over all parameters.</summary>
    public long ElementCount
    {
        get
        {
            long n = 0;
            foreach (Parameter p in _items)
            {
                n += p.Length;
            }
            return n;
        }
    }

    /// <summary>The parameter at <paramref name="index"/>.</summary>
    public Parameter this[int index] => _items[index];

    /// <summary>The parameter named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No parameter has that name.</exception>
    public Parameter this[string name] =>
        Find(name) ?? throw new KeyNotFoundException($"No parameter named '{name}'; the set has: {string.Join(", ", _items.Select(p => p.Name))}.");

    /// <summary>The parameter named <paramref name="name"/>, or null.</summary>
    public Parameter? Find(string name)
    {
        foreach (Parameter p in _items)
        {
            if (p.Name == name)
            {
                return p;
            }
        }
        return null;
    }

    /// <summary>Adds one parameter.</summary>
    /// <exception cref="ArgumentException">A parameter of the same name is already in the set.</exception>
    public ParameterSet Add(Parameter parameter)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        if (Find(parameter.Name) is not null)
        {
            throw new ArgumentException($"The set already has a parameter named '{parameter.Name}'.", nameof(parameter));
        }
        _items.Add(parameter);
        return this;
    }

    /// <summary>Adds every parameter of <paramref name="other"/>, each name prefixed with <paramref name="prefix"/> (e.g. <c>"encoder."</c>).</summary>
    public ParameterSet Add(string prefix, ParameterSet other)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(other);
        foreach (Parameter p in other._items)
        {
            Add(p.WithName(prefix + p.Name));
        }
        return this;
    }

    /// <summary>
    /// Adds the parameters of a layer that keeps them in one block (as generated attention layers do):
    /// each entry of <paramref name="layout"/> becomes a parameter over its slice of the value block and
    /// of the parallel gradient block.
    /// </summary>
    public ParameterSet AddBlock(string prefix, IReadOnlyList<LayerParameter> layout, SpanSource valueBlock, SpanSource gradientBlock)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(valueBlock);
        ArgumentNullException.ThrowIfNull(gradientBlock);
        foreach (LayerParameter p in layout)
        {
            int offset = p.Offset;
            int length = p.Length;
            Add(new Parameter(prefix + p.Name, p.Shape, () => valueBlock().Slice(offset, length), () => gradientBlock().Slice(offset, length)));
        }
        return this;
    }

    /// <summary>Sets every gradient to zero.</summary>
    public void ZeroGradients()
    {
        foreach (Parameter p in _items)
        {
            p.Gradient.Clear();
        }
    }

    /// <summary>The L2 norm of all gradients taken together (accumulated in double).</summary>
    public double GradientNorm()
    {
        double sum = 0;
        foreach (Parameter p in _items)
        {
            sum += TensorPrimitives.SumOfSquares<float>(p.Gradient);
        }
        return Math.Sqrt(sum);
    }

    /// <summary>Enumerates the parameters in order (a struct enumerator: no allocation).</summary>
    public List<Parameter>.Enumerator GetEnumerator() => _items.GetEnumerator();

    IEnumerator<Parameter> IEnumerable<Parameter>.GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();
}
