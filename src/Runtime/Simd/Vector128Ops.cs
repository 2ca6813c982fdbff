using System.ComponentModel;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
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

    /// <summary>
    /// Whether <c>MultiplyAddByLane</c> is one instruction (Arm64's by-element <c>fmla</c>); a JIT-time constant,
    /// so the generated register tiles that test it keep only the branch for this machine.
    /// </summary>
    public static bool HasMultiplyAddByLane
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => AdvSimd.Arm64.IsSupported;
    }

    /// <summary>
    /// <c>c + b * a[lane]</c>, fused: on Arm64 one <c>fmla c.4s, b.4s, a.s[lane]</c>, so a register tile multiplies by
    /// the four elements of one loaded vector of A without broadcasting them. <paramref name="lane"/> must be a
    /// constant (0 to 3) for the single instruction; elsewhere the lane is broadcast and multiplied as
    /// <see cref="MultiplyAdd"/> does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAddByLane(Vector128<float> a, [ConstantExpected(Max = (byte)3)] byte lane, Vector128<float> b, Vector128<float> c)
        => AdvSimd.Arm64.IsSupported
            ? AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c, b, a, lane)
            : Vector128.MultiplyAddEstimate(b, Vector128.Create(a.GetElement(lane)), c);

    /// <summary>One tile row's step by lane over two vectors of B: <c>(c0 + b0 * a[lane], c1 + b1 * a[lane])</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector128<float>, Vector128<float>) MultiplyAddByLane(Vector128<float> a, [ConstantExpected(Max = (byte)3)] byte lane,
        Vector128<float> b0, Vector128<float> b1, Vector128<float> c0, Vector128<float> c1)
        => (MultiplyAddByLane(a, lane, b0, c0), MultiplyAddByLane(a, lane, b1, c1));

    /// <summary>One tile row's step by lane over three vectors of B.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector128<float>, Vector128<float>, Vector128<float>) MultiplyAddByLane(Vector128<float> a, [ConstantExpected(Max = (byte)3)] byte lane,
        Vector128<float> b0, Vector128<float> b1, Vector128<float> b2, Vector128<float> c0, Vector128<float> c1, Vector128<float> c2)
        => (MultiplyAddByLane(a, lane, b0, c0), MultiplyAddByLane(a, lane, b1, c1), MultiplyAddByLane(a, lane, b2, c2));

    /// <summary>One tile row's step by lane over four vectors of B.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector128<float>, Vector128<float>, Vector128<float>, Vector128<float>) MultiplyAddByLane(Vector128<float> a, [ConstantExpected(Max = (byte)3)] byte lane,
        Vector128<float> b0, Vector128<float> b1, Vector128<float> b2, Vector128<float> b3, Vector128<float> c0, Vector128<float> c1, Vector128<float> c2, Vector128<float> c3)
        => (MultiplyAddByLane(a, lane, b0, c0), MultiplyAddByLane(a, lane, b1, c1), MultiplyAddByLane(a, lane, b2, c2), MultiplyAddByLane(a, lane, b3, c3));

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
