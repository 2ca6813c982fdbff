using System.ComponentModel;

namespace AttnGen;

/// <summary>
/// The vector operations the shape-independent kernel helpers (<see cref="VectorMath{TOps, TVec}"/>,
/// <see cref="SoftmaxRows{TOps, TVec}"/>) and the runtime's width-generic kernels (decoding attention, rotary
/// positions) are written against, once for every width. A struct implements it per width
/// (<see cref="Vector512Ops"/>, <see cref="Vector256Ops"/>, <see cref="Vector128Ops"/>, and <see cref="ScalarOps"/>
/// one float at a time); as a struct type
/// argument it makes the JIT compile each helper per width with every call inlined, so a helper costs what the
/// same code written out for that width would.
/// </summary>
/// <typeparam name="TVec">The vector of floats, e.g. <c>Vector512&lt;float&gt;</c>, or <see cref="float"/> for <see cref="ScalarOps"/>.</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public unsafe interface IVectorOps<TVec>
    where TVec : struct
{
    /// <summary>Floats per vector.</summary>
    static abstract int Width { get; }

    /// <summary>Every lane <paramref name="value"/>.</summary>
    static abstract TVec Create(float value);

    /// <summary>Lane i holds i (as a float).</summary>
    static abstract TVec Indices { get; }

    /// <summary>Loads <see cref="Width"/> floats from <paramref name="source"/> (no alignment required).</summary>
    static abstract TVec Load(float* source);

    /// <summary>Stores every lane to <paramref name="destination"/>.</summary>
    static abstract void Store(TVec value, float* destination);

    /// <summary>
    /// A mask whose first <paramref name="count"/> lanes are set (0 &lt; count ≤ Width): the one tail strategy of
    /// the kernels, a partial vector read with <see cref="LoadTail"/> and written with <see cref="StoreTail"/>.
    /// </summary>
    static abstract TVec TailMask(int count);

    /// <summary>The lanes of <paramref name="mask"/> from <paramref name="source"/>, zero in the others; reads nothing else.</summary>
    static abstract TVec LoadTail(float* source, TVec mask);

    /// <summary>Writes the lanes of <paramref name="mask"/> to <paramref name="destination"/>; touches nothing else.</summary>
    static abstract void StoreTail(TVec value, float* destination, TVec mask);

    /// <summary><c>a · b + c</c>: fused on the 512- and 256-bit paths, fused where the hardware has it on the 128-bit one, not fused on the scalar one.</summary>
    static abstract TVec MultiplyAdd(TVec a, TVec b, TVec c);

    /// <summary>The scalar <c>a · b + c</c> rounded as one lane of <see cref="MultiplyAdd"/> rounds it.</summary>
    static abstract float MultiplyAddScalar(float a, float b, float c);

    /// <summary><c>a + b</c>.</summary>
    static abstract TVec Add(TVec a, TVec b);

    /// <summary><c>a - b</c>.</summary>
    static abstract TVec Subtract(TVec a, TVec b);

    /// <summary><c>a · b</c>.</summary>
    static abstract TVec Multiply(TVec a, TVec b);

    /// <summary><c>a / b</c>.</summary>
    static abstract TVec Divide(TVec a, TVec b);

    /// <summary>Lane-wise maximum, the hardware's (NaN handling unspecified).</summary>
    static abstract TVec Max(TVec a, TVec b);

    /// <summary>All bits set in lanes where <c>a &lt; b</c>.</summary>
    static abstract TVec LessThan(TVec a, TVec b);

    /// <summary>All bits set in lanes where <c>a &gt; b</c>.</summary>
    static abstract TVec GreaterThan(TVec a, TVec b);

    /// <summary>Lanes of <paramref name="whenSet"/> where <paramref name="mask"/> is set, else of <paramref name="otherwise"/>.</summary>
    static abstract TVec Select(TVec mask, TVec whenSet, TVec otherwise);

    /// <summary>The bits of each lane as an int, shifted left by 23 (into a float's exponent field), as floats again.</summary>
    static abstract TVec ShiftIntoExponent(TVec value);

    /// <summary>The largest lane (by halving; NaN lanes may be ignored).</summary>
    static abstract float HorizontalMax(TVec value);

    /// <summary>The sum of the lanes.</summary>
    static abstract float HorizontalSum(TVec value);

    /// <summary>Lane 0.</summary>
    static abstract float First(TVec value);
}
