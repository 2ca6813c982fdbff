using System.ComponentModel;

namespace AttnGen;

/// <summary>
/// Where the attention drivers keep their tiles, in the layer's per-worker scratch (forward) or work area (backward).
/// The forward uses <see cref="KeysT"/>, <see cref="Values"/>, <see cref="Out"/>, <see cref="Prob"/> and
/// <see cref="Query"/>; the backward all but <see cref="Values"/> and <see cref="Out"/>. The tiles of query rows hold
/// as many query tiles as a driver runs over one pass of the keys: <c>VectorAttention.TilesPerPass</c> (forward) or
/// <c>VectorAttentionBackward.TilesPerPass</c> (backward) times Br rows.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public unsafe struct AttentionBuffers
{
    /// <summary>One key/value head's keys transposed in key blocks: [KeyPad / Bc][HeadDim, Bc].</summary>
    public float* KeysT;

    /// <summary>The backward's values transposed like <see cref="KeysT"/> (for dP = dO·Vᵀ).</summary>
    public float* ValuesT;

    /// <summary>The backward's keys padded [KeyPad, DimPad] (for dQ = dS·K).</summary>
    public float* Keys;

    /// <summary>The forward's values padded [KeyPad, DimPad] (for P·V).</summary>
    public float* Values;

    /// <summary>The forward's output accumulators, [Br, DimPad] per query tile of a pass.</summary>
    public float* Out;

    /// <summary>Scores, then probabilities, [Br, Bc] per query tile of a pass.</summary>
    public float* Prob;

    /// <summary>The backward's dP, then dS, [Br, Bc] per query tile of a pass.</summary>
    public float* ScoreGrad;

    /// <summary>The query rows (times the scale), [Br, DimPad] per query tile of a pass.</summary>
    public float* Query;

    /// <summary>The backward's dO rows, [Br, DimPad] per query tile of a pass.</summary>
    public float* OutGrad;

    /// <summary>The backward's dQ rows, [Br, DimPad] per query tile of a pass.</summary>
    public float* QueryGrad;

    /// <summary>The backward's dK accumulator of one key/value head [KeyPad, DimPad].</summary>
    public float* KeyGrad;

    /// <summary>The backward's dV accumulator of one key/value head [KeyPad, DimPad].</summary>
    public float* ValueGrad;

    /// <summary>Additive scoring: the head's v [DimPad].</summary>
    public float* AdditiveV;

    /// <summary>Additive scoring: the head's gradient of v [DimPad].</summary>
    public float* AdditiveVGrad;
}
