using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace AttnGen;

/// <summary>
/// <see cref="ReadOnlyTensorSpan{T}"/> and <see cref="TensorSpan{T}"/> forms of a layer's Forward, ForwardTrain
/// and Backward, next to its span forms. A tensor is <c>[batch, rows, width]</c>, or <c>[rows, width]</c> for a
/// batch of one, dense and row-major; the batch is read from the tensors. Shapes are checked before anything
/// runs: a wrong rank, length, batch or a strided tensor is an <see cref="ArgumentException"/> naming the
/// argument, the expected and the actual shape, and the outputs are left untouched.
/// </summary>
public static class AttentionLayerTensorExtensions
{
    /// <summary>Self-attention: <paramref name="input"/> <c>[batch, SeqLen, ModelDim]</c> into <paramref name="output"/> of the same shape.</summary>
    /// <remarks>The same as <see cref="Forward(IAttentionLayer, ReadOnlyTensorSpan{float}, ReadOnlyTensorSpan{float}, ReadOnlyTensorSpan{float}, TensorSpan{float}, ReadOnlySpan{int})"/> with the input as query, key and value.</remarks>
    public static void Forward(this IAttentionLayer layer, ReadOnlyTensorSpan<float> input, TensorSpan<float> output, ReadOnlySpan<int> validLengths = default)
    {
        ArgumentNullException.ThrowIfNull(layer);
        Shapes shapes = Shapes.SelfAttention(layer.Info, input, output, nameof(input), nameof(output));
        ReadOnlySpan<float> x = Dense(input);
        layer.Forward(x, x, x, Dense(output), shapes.Batch, validLengths);
    }

    /// <summary>Attention of <paramref name="query"/> <c>[batch, SeqLen, QueryInputWidth]</c> over <paramref name="key"/> and <paramref name="value"/> <c>[batch, KvSeqLen, KvInputWidth]</c> into <paramref name="output"/> <c>[batch, SeqLen, ModelDim]</c>.</summary>
    public static void Forward(this IAttentionLayer layer, ReadOnlyTensorSpan<float> query, ReadOnlyTensorSpan<float> key, ReadOnlyTensorSpan<float> value, TensorSpan<float> output, ReadOnlySpan<int> validLengths = default)
    {
        ArgumentNullException.ThrowIfNull(layer);
        Shapes shapes = Shapes.CrossAttention(layer.Info, query, key, value, output);
        layer.Forward(Dense(query), Dense(key), Dense(value), Dense(output), shapes.Batch, validLengths);
    }

    /// <summary>Self-attention forward that keeps what <see cref="Backward(IAttentionLayer, ReadOnlyTensorSpan{float}, TensorSpan{float}, ReadOnlySpan{int})"/> needs.</summary>
    public static void ForwardTrain(this IAttentionLayer layer, ReadOnlyTensorSpan<float> input, TensorSpan<float> output, ReadOnlySpan<int> validLengths = default)
    {
        ArgumentNullException.ThrowIfNull(layer);
        Shapes shapes = Shapes.SelfAttention(layer.Info, input, output, nameof(input), nameof(output));
        ReadOnlySpan<float> x = Dense(input);
        layer.ForwardTrain(x, x, x, Dense(output), shapes.Batch, validLengths);
    }

    /// <summary>Forward that keeps what <see cref="Backward(IAttentionLayer, ReadOnlyTensorSpan{float}, TensorSpan{float}, TensorSpan{float}, TensorSpan{float}, ReadOnlySpan{int})"/> needs; shapes as in Forward.</summary>
    public static void ForwardTrain(this IAttentionLayer layer, ReadOnlyTensorSpan<float> query, ReadOnlyTensorSpan<float> key, ReadOnlyTensorSpan<float> value, TensorSpan<float> output, ReadOnlySpan<int> validLengths = default)
    {
        ArgumentNullException.ThrowIfNull(layer);
        Shapes shapes = Shapes.CrossAttention(layer.Info, query, key, value, output);
        layer.ForwardTrain(Dense(query), Dense(key), Dense(value), Dense(output), shapes.Batch, validLengths);
    }

    /// <summary>
    /// Backward of a self-attention ForwardTrain: writes the input gradient <c>[batch, SeqLen, ModelDim]</c>
    /// (the sum of the query, key and value gradients, as the input fed all three) and adds the parameter
    /// gradients to <see cref="IAttentionLayer.GradientBlock"/>.
    /// </summary>
    public static void Backward(this IAttentionLayer layer, ReadOnlyTensorSpan<float> outputGrad, TensorSpan<float> inputGrad, ReadOnlySpan<int> validLengths = default)
    {
        ArgumentNullException.ThrowIfNull(layer);
        Shapes shapes = Shapes.SelfAttention(layer.Info, outputGrad, inputGrad, nameof(outputGrad), nameof(inputGrad));
        Span<float> grad = Dense(inputGrad);
        float[] keyGrad = ArrayPool<float>.Shared.Rent(grad.Length);
        float[] valueGrad = ArrayPool<float>.Shared.Rent(grad.Length);
        try
        {
            Span<float> k = keyGrad.AsSpan(0, grad.Length), v = valueGrad.AsSpan(0, grad.Length);
            layer.Backward(Dense(outputGrad), grad, k, v, shapes.Batch, validLengths);
            TensorPrimitives.Add(grad, k, grad);
            TensorPrimitives.Add(grad, v, grad);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(keyGrad);
            ArrayPool<float>.Shared.Return(valueGrad);
        }
    }

    /// <summary>Backward of the last ForwardTrain: writes the query, key and value gradients (shaped like those inputs) and adds the parameter gradients.</summary>
    public static void Backward(this IAttentionLayer layer, ReadOnlyTensorSpan<float> outputGrad, TensorSpan<float> queryGrad, TensorSpan<float> keyGrad, TensorSpan<float> valueGrad, ReadOnlySpan<int> validLengths = default)
    {
        ArgumentNullException.ThrowIfNull(layer);
        AttentionLayerInfo info = layer.Info;
        int batch = Shapes.BatchOf(outputGrad, info.SeqLen, info.ModelDim, nameof(outputGrad));
        Shapes.Check(queryGrad, batch, info.SeqLen, info.QueryInputWidth, nameof(queryGrad), nameof(outputGrad));
        Shapes.Check(keyGrad, batch, info.KvSeqLen, info.KvInputWidth, nameof(keyGrad), nameof(outputGrad));
        Shapes.Check(valueGrad, batch, info.KvSeqLen, info.KvInputWidth, nameof(valueGrad), nameof(outputGrad));
        layer.Backward(Dense(outputGrad), Dense(queryGrad), Dense(keyGrad), Dense(valueGrad), batch, validLengths);
    }

    /// <summary>The token count of a decoding step's <c>[batch, tokens, width]</c> (or <c>[tokens, width]</c>) tensors, checked against <paramref name="batch"/>.</summary>
    internal static int DecodeTokens(ReadOnlyTensorSpan<float> input, ReadOnlyTensorSpan<float> output, int batch, int width, string batchSource)
    {
        int tokens = input.Rank is 2 or 3 ? (int)Math.Min(input.Lengths[input.Rank - 2], int.MaxValue) : 0;
        Shapes.Check(input, batch, tokens, width, nameof(input), batchSource);
        Shapes.Check(output, batch, tokens, width, nameof(output), batchSource);
        return tokens;
    }

    internal static ReadOnlySpan<float> Dense(ReadOnlyTensorSpan<float> tensor)
        => MemoryMarshal.CreateReadOnlySpan(in tensor.GetPinnableReference(), checked((int)tensor.FlattenedLength));

    internal static Span<float> Dense(TensorSpan<float> tensor)
        => MemoryMarshal.CreateSpan(ref tensor.GetPinnableReference(), checked((int)tensor.FlattenedLength));

    /// <summary>Shape checks; every failure names the argument, the expected and the actual shape.</summary>
    private readonly record struct Shapes(int Batch)
    {
        public static Shapes SelfAttention(AttentionLayerInfo info, ReadOnlyTensorSpan<float> input, ReadOnlyTensorSpan<float> output, string inputName, string outputName)
        {
            if (info.KvSeqLen != info.SeqLen || info.QueryInputWidth != info.KvInputWidth)
            {
                throw new ArgumentException(
                    $"{info.Name} is a cross-attention layer (SeqLen {info.SeqLen}, KvSeqLen {info.KvSeqLen}); pass query, key and value tensors.", inputName);
            }
            int batch = BatchOf(input, info.SeqLen, info.QueryInputWidth, inputName);
            Check(output, batch, info.SeqLen, info.ModelDim, outputName, inputName);
            return new Shapes(batch);
        }

        public static Shapes CrossAttention(AttentionLayerInfo info, ReadOnlyTensorSpan<float> query, ReadOnlyTensorSpan<float> key, ReadOnlyTensorSpan<float> value, ReadOnlyTensorSpan<float> output)
        {
            int batch = BatchOf(query, info.SeqLen, info.QueryInputWidth, nameof(query));
            Check(key, batch, info.KvSeqLen, info.KvInputWidth, nameof(key), nameof(query));
            Check(value, batch, info.KvSeqLen, info.KvInputWidth, nameof(value), nameof(query));
            Check(output, batch, info.SeqLen, info.ModelDim, nameof(output), nameof(query));
            return new Shapes(batch);
        }

        /// <summary>The batch of a <c>[batch, rows, width]</c> or <c>[rows, width]</c> dense tensor.</summary>
        public static int BatchOf(ReadOnlyTensorSpan<float> tensor, int rows, int width, string name)
        {
            ReadOnlySpan<nint> lengths = tensor.Lengths;
            bool shaped = tensor.Rank switch
            {
                2 => lengths[0] == rows && lengths[1] == width,
                3 => lengths[0] >= 1 && lengths[0] <= int.MaxValue && lengths[1] == rows && lengths[2] == width,
                _ => false,
            };
            if (!shaped)
            {
                throw new ArgumentException($"'{name}' has shape {ShapeText(lengths)}; expected [batch, {rows}, {width}] with batch at least 1, or [{rows}, {width}].", name);
            }
            CheckDense(tensor, name);
            return tensor.Rank == 3 ? (int)lengths[0] : 1;
        }

        /// <summary>Checks a tensor against the batch read from <paramref name="batchSource"/>.</summary>
        public static void Check(ReadOnlyTensorSpan<float> tensor, int batch, int rows, int width, string name, string batchSource)
        {
            ReadOnlySpan<nint> lengths = tensor.Lengths;
            bool shaped = tensor.Rank switch
            {
                2 => batch == 1 && lengths[0] == rows && lengths[1] == width,
                3 => lengths[0] == batch && lengths[1] == rows && lengths[2] == width,
                _ => false,
            };
            if (!shaped)
            {
                throw new ArgumentException($"'{name}' has shape {ShapeText(lengths)}; expected [{batch}, {rows}, {width}] (batch {batch} from '{batchSource}').", name);
            }
            CheckDense(tensor, name);
        }

        private static void CheckDense(ReadOnlyTensorSpan<float> tensor, string name)
        {
            if (!tensor.IsDense)
            {
                throw new ArgumentException(
                    $"'{name}' has strides {ShapeText(tensor.Strides)} for shape {ShapeText(tensor.Lengths)}; expected a dense row-major tensor (copy it into one first).", name);
            }
        }

        private static string ShapeText(ReadOnlySpan<nint> values)
        {
            var parts = new string[values.Length];
            for (int i = 0; i < values.Length; i++)
            {
                parts[i] = values[i].ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            return "[" + string.Join(", ", parts) + "]";
        }
    }
}
