namespace AttnGen.Benchmarks.Contenders;

/// <summary>The runtime shape of a self-attention core: heads, sequence length, head width, causal mask.</summary>
public readonly record struct AttentionShape(int Heads, int SeqLen, int HeadDim, bool Causal)
{
    /// <summary>Heads * HeadDim: the row width of token-major q, k, v and the core's output.</summary>
    public int Width => Heads * HeadDim;

    /// <summary>1/sqrt(HeadDim), the scaled dot-product factor.</summary>
    public float Scale => 1f / MathF.Sqrt(HeadDim);

    /// <summary>Floats in one sequence of q (or k, v, output).</summary>
    public int SequenceLength => SeqLen * Width;

    /// <summary>Number of keys query <paramref name="i"/> sees.</summary>
    public int VisibleKeys(int i) => Causal ? i + 1 : SeqLen;
}
