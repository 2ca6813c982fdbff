using AttnGen.Benchmarks.Contenders;

namespace AttnGen.Benchmarks.Onnx;

/// <summary>Which ONNX attention operator a model uses.</summary>
public enum OrtAttentionOp
{
    /// <summary>The standard <c>Attention</c> operator of opset 23 (ai.onnx).</summary>
    Attention23,

    /// <summary>ONNX Runtime's contrib <c>com.microsoft.MultiHeadAttention</c>.</summary>
    MultiHeadAttention,
}

/// <summary>How a causal mask reaches the operator.</summary>
public enum OrtCausalMode
{
    /// <summary>Not causal.</summary>
    None,

    /// <summary>The operator's own attribute (<c>is_causal</c> or <c>unidirectional</c>).</summary>
    Attribute,

    /// <summary>An additive <c>[1, 1, S, S]</c> bias input with a large negative value above the diagonal.</summary>
    BiasMask,
}

/// <summary>Builds the ONNX graphs the benchmarks run: a bare attention core and a full layer.</summary>
internal static class AttentionModels
{
    private const float MaskedScore = -1e30f;

    /// <summary>Graph inputs q, k, v [batch, S, H*D] → output y [batch, S, H*D].</summary>
    public static byte[] Core(OrtAttentionOp op, AttentionShape shape, int batch, OrtCausalMode causal)
    {
        long[] dims = [batch, shape.SeqLen, shape.Width];
        var model = NewModel(op).Input("q", dims).Input("k", dims).Input("v", dims).Output("y", dims);
        AddAttention(model, op, shape, causal, "q", "k", "v", "y");
        return model.ToBytes();
    }

    /// <summary>
    /// Graph input x [batch, S, ModelDim] → y [batch, S, ModelDim]: MatMul + Add for each of q, k, v
    /// (weights as initialisers, transposed from the PyTorch layout), the attention operator, MatMul + Add
    /// for the output projection.
    /// </summary>
    public static byte[] Layer(OrtAttentionOp op, AttentionShape shape, int modelDim, int batch, OrtCausalMode causal,
        ReadOnlySpan<float> inProjWeight, ReadOnlySpan<float> inProjBias, ReadOnlySpan<float> outProjWeight, ReadOnlySpan<float> outProjBias)
    {
        int w = shape.Width;
        long[] dims = [batch, shape.SeqLen, modelDim];
        var model = NewModel(op).Input("x", dims).Output("y", dims);
        string[] names = ["q", "k", "v"];
        for (int p = 0; p < 3; p++)
        {
            model.Initializer($"w_{names[p]}", Transpose(inProjWeight.Slice(p * w * modelDim, w * modelDim), w, modelDim), modelDim, w)
                 .Initializer($"b_{names[p]}", inProjBias.Slice(p * w, w), w)
                 .Node("MatMul", OnnxModel.StandardDomain, ["x", $"w_{names[p]}"], [$"{names[p]}_raw"])
                 .Node("Add", OnnxModel.StandardDomain, [$"{names[p]}_raw", $"b_{names[p]}"], [names[p]]);
        }
        AddAttention(model, op, shape, causal, "q", "k", "v", "context");
        model.Initializer("w_out", Transpose(outProjWeight, modelDim, w), w, modelDim)
             .Initializer("b_out", outProjBias, modelDim)
             .Node("MatMul", OnnxModel.StandardDomain, ["context", "w_out"], ["y_raw"])
             .Node("Add", OnnxModel.StandardDomain, ["y_raw", "b_out"], ["y"]);
        return model.ToBytes();
    }

    private static OnnxModel NewModel(OrtAttentionOp op)
    {
        var model = new OnnxModel { IrVersion = 10 }.Opset(OnnxModel.StandardDomain, 23);
        return op == OrtAttentionOp.MultiHeadAttention ? model.Opset(OnnxModel.MicrosoftDomain, 1) : model;
    }

    private static void AddAttention(OnnxModel model, OrtAttentionOp op, AttentionShape shape, OrtCausalMode causal, string q, string k, string v, string y)
    {
        string mask = "";
        if (causal == OrtCausalMode.BiasMask)
        {
            mask = "causal_bias";
            model.Initializer(mask, CausalBias(shape.SeqLen), 1, 1, shape.SeqLen, shape.SeqLen);
        }
        bool attribute = causal == OrtCausalMode.Attribute;
        if (op == OrtAttentionOp.Attention23)
        {
            // Inputs Q, K, V, attn_mask; 3-D inputs take the head counts as attributes.
            List<string> inputs = [q, k, v];
            if (mask.Length > 0)
            {
                inputs.Add(mask);
            }
            model.Node("Attention", OnnxModel.StandardDomain, [.. inputs], [y],
                new OnnxAttribute("q_num_heads", shape.Heads),
                new OnnxAttribute("kv_num_heads", shape.Heads),
                new OnnxAttribute("is_causal", attribute ? 1 : 0));
        }
        else
        {
            // Inputs query, key, value, bias, key_padding_mask, attention_bias.
            string[] inputs = mask.Length > 0 ? [q, k, v, "", "", mask] : [q, k, v];
            OnnxAttribute[] attributes = attribute
                ? [new OnnxAttribute("num_heads", shape.Heads), new OnnxAttribute("unidirectional", 1)]
                : [new OnnxAttribute("num_heads", shape.Heads)];
            model.Node("MultiHeadAttention", OnnxModel.MicrosoftDomain, inputs, [y], attributes);
        }
    }

    private static float[] CausalBias(int seqLen)
    {
        var bias = new float[seqLen * seqLen];
        for (int i = 0; i < seqLen; i++)
        {
            bias.AsSpan(i * seqLen + i + 1, seqLen - i - 1).Fill(MaskedScore);
        }
        return bias;
    }

    /// <summary>[rows, cols] → [cols, rows].</summary>
    private static float[] Transpose(ReadOnlySpan<float> matrix, int rows, int cols)
    {
        var result = new float[matrix.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                result[c * rows + r] = matrix[r * cols + c];
            }
        }
        return result;
    }
}
