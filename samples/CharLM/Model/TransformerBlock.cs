using AttnGen;
using AttnGen.Training;

namespace CharLM.Model;

/// <summary>
/// One pre-norm transformer block over rows of width <c>ModelDim</c>:
/// <code>
/// h = x + attention(norm1(x))          (causal, over whole sequences)
/// y = h + down(gelu(up(norm2(h))))     (row by row; up: ModelDim -> Hidden, down: Hidden -> ModelDim)
/// </code>
/// Everything but the attention is row-wise and callable on any number of rows
/// (<see cref="AttentionInput"/>, <see cref="FinishRows"/>), so a decoding step can run it on one row per
/// sequence. The block keeps the activations of its last forward in buffers sized for <c>maxRows</c> rows.
/// </summary>
internal sealed class TransformerBlock : IDisposable
{
    private readonly LayerNorm _norm1, _norm2;
    private readonly Linear _up, _down;
    private readonly Gelu _gelu = new(GeluApproximation.Tanh);
    private readonly AlignedBuffer _n1, _attended, _h, _n2, _u, _g;
    private readonly AlignedBuffer _dModel, _dHidden, _dH;

    /// <param name="attention">The block's causal self-attention (owned and disposed by the block).</param>
    /// <param name="layout">The attention layer's parameter list.</param>
    /// <param name="seqLen">The attention layer's SeqLen.</param>
    /// <param name="modelDim">Row width (the attention layer's ModelDim).</param>
    /// <param name="hidden">Width of the MLP's hidden layer.</param>
    /// <param name="maxRows">Most rows a call may pass (a multiple of <paramref name="seqLen"/> for whole sequences).</param>
    public TransformerBlock(ICausalAttention attention, IReadOnlyList<LayerParameter> layout, int seqLen, int modelDim, int hidden, int maxRows)
    {
        (Attention, SeqLen, ModelDim, Hidden, MaxRows) = (attention, seqLen, modelDim, hidden, maxRows);
        _norm1 = new LayerNorm(modelDim);
        _norm2 = new LayerNorm(modelDim);
        _up = new Linear(modelDim, hidden);
        _down = new Linear(hidden, modelDim);
        int model = maxRows * modelDim, wide = maxRows * hidden;
        (_n1, _attended, _h, _n2, _dModel, _dH) = (new(model), new(model), new(model), new(model), new(model), new(model));
        (_u, _g, _dHidden) = (new(wide), new(wide), new(wide));
        Parameters.Add("norm1.", _norm1.Parameters);
        Parameters.AddBlock("attention.", layout, () => attention.ParameterBlock, () => attention.GradientBlock);
        Parameters.Add("norm2.", _norm2.Parameters).Add("mlp.up.", _up.Parameters).Add("mlp.down.", _down.Parameters);
    }

    /// <summary>The block's attention layer.</summary>
    public ICausalAttention Attention { get; }

    public int SeqLen { get; }

    public int ModelDim { get; }

    public int Hidden { get; }

    public int MaxRows { get; }

    public ParameterSet Parameters { get; } = new();

    public void ResetParameters(ulong seed)
    {
        Attention.ResetParameters(seed);
        _norm1.ResetParameters();
        _norm2.ResetParameters();
        _up.ResetParameters(seed + 1);
        _down.ResetParameters(seed + 2);
    }

    /// <summary>
    /// The block over <paramref name="batch"/> whole sequences <c>[batch, SeqLen, ModelDim]</c>; with
    /// <paramref name="training"/> the attention keeps what <see cref="Backward"/> needs.
    /// </summary>
    public void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, bool training)
    {
        int rows = CheckRows(batch * SeqLen);
        Span<float> n1 = _n1.Slice(0, rows * ModelDim), attended = _attended.Slice(0, rows * ModelDim);
        AttentionInput(x, n1, rows);
        if (training)
        {
            Attention.ForwardTrain(n1, attended, batch, default);
        }
        else
        {
            Attention.Forward(n1, attended, batch, default);
        }
        FinishRows(x, attended, y, rows);
    }

    /// <summary>Row-wise: the attention's input <c>norm1(x)</c> for <paramref name="rows"/> rows.</summary>
    public void AttentionInput(ReadOnlySpan<float> x, Span<float> attentionInput, int rows) => _norm1.Forward(x, attentionInput, CheckRows(rows));

    /// <summary>
    /// Row-wise: given the block input <paramref name="x"/> and the attention output, the block output
    /// <c>y = h + down(gelu(up(norm2(h))))</c> with <c>h = x + attended</c>, for <paramref name="rows"/> rows.
    /// </summary>
    public void FinishRows(ReadOnlySpan<float> x, ReadOnlySpan<float> attended, Span<float> y, int rows)
    {
        int model = CheckRows(rows) * ModelDim, wide = rows * Hidden;
        Span<float> h = _h.Slice(0, model), n2 = _n2.Slice(0, model), u = _u.Slice(0, wide), g = _g.Slice(0, wide);
        ResidualAdd.Forward(x.Slice(0, model), attended.Slice(0, model), h);
        _norm2.Forward(h, n2, rows);
        _up.Forward(n2, u, rows);
        _gelu.Forward(u, g);
        _down.Forward(g, y.Slice(0, model), rows);
        ResidualAdd.Forward(h, y.Slice(0, model), y.Slice(0, model));
    }

    /// <summary>
    /// Backward of the last training <see cref="Forward"/> (same <paramref name="x"/> and batch): writes
    /// <paramref name="dx"/> and adds every parameter gradient.
    /// </summary>
    public void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, int batch)
    {
        int rows = CheckRows(batch * SeqLen);
        int model = rows * ModelDim, wide = rows * Hidden;
        Span<float> dHidden = _dHidden.Slice(0, wide), dModel = _dModel.Slice(0, model), dH = _dH.Slice(0, model);

        // y = h + down(gelu(up(norm2(h)))): dh = dy + the MLP branch's input gradient.
        _down.Backward(_g.Slice(0, wide), dy, dHidden, rows);
        _gelu.Backward(_u.Slice(0, wide), dHidden, dHidden);
        _up.Backward(_n2.Slice(0, model), dHidden, dModel, rows);
        _norm2.Backward(_h.Slice(0, model), dModel, dH, rows);
        ResidualAdd.Backward(dy, dH, default);

        // h = x + attention(norm1(x)): dx = dh + norm1's input gradient of the attention's input gradient.
        Attention.Backward(dH, dModel, batch, default);
        _norm1.Backward(x, dModel, dx, rows);
        ResidualAdd.Backward(dH, dx, default);
    }

    private int CheckRows(int rows)
    {
        if (rows < 1 || rows > MaxRows)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), rows, $"'rows' is {rows}; this block holds buffers for 1..{MaxRows} rows.");
        }
        return rows;
    }

    public void Dispose()
    {
        Attention.Dispose();
        foreach (IDisposable d in (IDisposable[])[_norm1, _norm2, _up, _down, _n1, _attended, _h, _n2, _u, _g, _dModel, _dHidden, _dH])
        {
            d.Dispose();
        }
    }
}
