namespace AttnGen.Training;

/// <summary>
/// Returns a span over memory that does not move (an <see cref="AlignedBuffer"/> or a generated layer's
/// parameter block). Called on every optimizer step, so it must not allocate.
/// </summary>
public delegate Span<float> SpanSource();

/// <summary>
/// One trainable tensor: a name (PyTorch state-dict style, e.g. <c>classifier.weight</c>), a row-major
/// shape, its values and the gradient buffer that backward passes accumulate into.
/// </summary>
public sealed class Parameter
{
    private readonly SpanSource _value;
    private readonly SpanSource _gradient;
    private readonly int[] _shape;

    /// <summary>A parameter whose values and gradient live in two buffers of the same length.</summary>
    /// <exception cref="ArgumentException">The buffers' lengths differ from the shape's element count.</exception>
    public Parameter(string name, AlignedBuffer value, AlignedBuffer gradient, params int[] shape)
        : this(name, shape, () => value.Span, () => gradient.Span)
    {
    }

    /// <summary>
    /// A parameter over memory owned elsewhere (for example a slice of a generated layer's parameter and
    /// gradient blocks). Both sources must return spans of exactly the shape's element count.
    /// </summary>
    /// <exception cref="ArgumentException">A source returns a span of the wrong length.</exception>
    public Parameter(string name, int[] shape, SpanSource value, SpanSource gradient)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(gradient);
        long length = 1;
        foreach (int d in shape)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(d, nameof(shape));
            length *= d;
        }
        Name = name;
        _shape = (int[])shape.Clone();
        Length = checked((int)length);
        _value = value;
        _gradient = gradient;
        CheckLength(value().Length, "value");
        CheckLength(gradient().Length, "gradient");
    }

    /// <summary>The parameter's name.</summary>
    public string Name { get; }

    /// <summary>Row-major shape.</summary>
    public IReadOnlyList<int> Shape => _shape;

    /// <summary>The shape as PyTorch prints it, e.g. <c>[2, 64]</c>.</summary>
    public string ShapeText => "[" + string.Join(", ", _shape) + "]";

    /// <summary>Number of elements.</summary>
    public int Length { get; }

    /// <summary>The current values.</summary>
    public Span<float> Value => _value();

    /// <summary>The accumulated gradient.</summary>
    public Span<float> Gradient => _gradient();

    /// <summary>This parameter under another name (same memory), e.g. with a module prefix.</summary>
    public Parameter WithName(string name) => new(name, _shape, _value, _gradient);

    private void CheckLength(int actual, string what)
    {
        if (actual != Length)
        {
            throw new ArgumentException(
                $"Parameter '{Name}' {ShapeText} needs {Length} floats; its {what} has {actual}.", what);
        }
    }
}
