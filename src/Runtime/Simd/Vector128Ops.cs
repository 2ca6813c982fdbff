using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AttnGen;

/// <summary><see cref="IVectorOps{TVec}"/> on 128-bit vectors (Neon on Arm64, SSE on x64: fused multiply-add where the hardware has it).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly unsafe struct Vector128Ops : IVectorOps<Vector128<float>>
{
    /// <inheritdoc/>
    public static int Width => Vector128<float>.Count;

    /// <inheritdoc/>
    public static Vector128<float> Indices => Vector128<float>.Indices;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MultiplyAddScalar(float a, float b, float c) => float.MultiplyAddEstimate(a, b, c);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Create(float value) => Vector128.Create(value);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load(float* source) => Vector128.Load(source);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<float> value, float* destination) => Vector128.Store(value, destination);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> TailMask(int count) => Vector128.LessThan(Vector128<float>.Indices, Vector128.Create((float)count));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LoadTail(float* source, Vector128<float> mask)
    {
        if (Avx.IsSupported)
        {
            return Avx.MaskLoad(source, mask);
        }
        // Neon and plain SSE have no masked load: the set lanes are a prefix, so read them one by one.
        Vector128<float> value = Vector128<float>.Zero;
        for (int i = 0; i < 4 && mask.AsInt32().GetElement(i) != 0; i++)
        {
            value = value.WithElement(i, source[i]);
        }
        return value;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreTail(Vector128<float> value, float* destination, Vector128<float> mask)
    {
        if (Avx.IsSupported)
        {
            Avx.MaskStore(destination, mask, value);
            return;
        }
        for (int i = 0; i < 4 && mask.AsInt32().GetElement(i) != 0; i++)
        {
            destination[i] = value.GetElement(i);
        }
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.MultiplyAddEstimate(a, b, c);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Subtract(Vector128<float> a, Vector128<float> b) => a - b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Multiply(Vector128<float> a, Vector128<float> b) => a * b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Divide(Vector128<float> a, Vector128<float> b) => a / b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Max(Vector128<float> a, Vector128<float> b) => Vector128.MaxNative(a, b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LessThan(Vector128<float> a, Vector128<float> b) => Vector128.LessThan(a, b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> GreaterThan(Vector128<float> a, Vector128<float> b) => Vector128.GreaterThan(a, b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Select(Vector128<float> mask, Vector128<float> whenSet, Vector128<float> otherwise)
        => Vector128.ConditionalSelect(mask, whenSet, otherwise);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> ShiftIntoExponent(Vector128<float> value)
        => Vector128.ShiftLeft(value.AsInt32(), 23).AsSingle();

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HorizontalMax(Vector128<float> value)
    {
        Vector128<float> pairs = Vector128.MaxNative(value, Vector128.Shuffle(value, Vector128.Create(2, 3, 0, 1)));
        return Vector128.MaxNative(pairs, Vector128.Shuffle(pairs, Vector128.Create(1, 0, 3, 2))).ToScalar();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HorizontalSum(Vector128<float> value) => Vector128.Sum(value);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float First(Vector128<float> value) => value.ToScalar();
}
