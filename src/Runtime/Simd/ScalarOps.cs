using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace AttnGen;

/// <summary>
/// <see cref="IVectorOps{TVec}"/> one float at a time: the scalar path, for machines or processes without hardware
/// vectors. The generated scalar kernels are the register-tile template rendered at width 1 with this struct and
/// <see cref="float"/> as their vector (driven by <see cref="VectorAttention{TOps, TVec}"/> and
/// <see cref="VectorAttentionBackward{TOps, TVec}"/> like every other width); the width-generic runtime kernels
/// (decoding attention, rotary positions) use it the same way. At width 1 a column count is always a whole number
/// of vectors, so the generated code never asks for a tail mask. A mask is a float whose bits are all set (true)
/// or all clear (false), as one lane of a hardware mask is.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly unsafe struct ScalarOps : IVectorOps<float>
{
    // All 32 bits set: the "true" of a comparison, a NaN as a float.
    private static float AllBits => BitConverter.Int32BitsToSingle(-1);

    /// <inheritdoc/>
    public static int Width => 1;

    /// <inheritdoc/>
    public static float Indices => 0f;

    /// <inheritdoc/>
    /// <remarks>Not fused, as <see cref="MultiplyAdd"/> is not.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MultiplyAddScalar(float a, float b, float c) => a * b + c;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Create(float value) => value;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(float* source) => *source;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float value, float* destination) => *destination = value;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float TailMask(int count) => count > 0 ? AllBits : 0f;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LoadTail(float* source, float mask) => IsSet(mask) ? *source : 0f;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreTail(float value, float* destination, float mask)
    {
        if (IsSet(mask))
        {
            *destination = value;
        }
    }

    /// <inheritdoc/>
    /// <remarks>Not fused: plain C# arithmetic, what the scalar path always computed.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MultiplyAdd(float a, float b, float c) => a * b + c;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Add(float a, float b) => a + b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Subtract(float a, float b) => a - b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Multiply(float a, float b) => a * b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Divide(float a, float b) => a / b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Max(float a, float b) => MathF.Max(a, b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LessThan(float a, float b) => a < b ? AllBits : 0f;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float GreaterThan(float a, float b) => a > b ? AllBits : 0f;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Select(float mask, float whenSet, float otherwise) => IsSet(mask) ? whenSet : otherwise;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ShiftIntoExponent(float value) => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(value) << 23);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HorizontalMax(float value) => value;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HorizontalSum(float value) => value;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float First(float value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsSet(float mask) => BitConverter.SingleToInt32Bits(mask) != 0;
}
