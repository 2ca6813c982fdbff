using System.ComponentModel;

namespace AttnGen;

/// <summary>
/// Where the attention drivers keep their tiles, in the layer's per-worker scratch (forward) or work area (backward).
/// The forward uses <see cref="KeysT"/>, <see cref="Values"/>, <see cref="Out"/>, <see cref="Prob"/> and
/// <see cref="Query"/>; the backward all but <see cref="Out"/>.
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

    /// <summary>The forward's output accumulator [Br, DimPad].</summary>
    public float* Out;

    /// <summary>Scores, then probabilities [Br, Bc].</summary>
    public float* Prob;

    /// <summary>The backward's dP, then dS [Br, Bc].</summary>
    public float* ScoreGrad;

    /// <summary>The tile's query rows [Br, DimPad].</summary>
    public float* Query;

    /// <summary>The backward's dO rows [Br, DimPad].</summary>
    public float* OutGrad;

    /// <summary>The backward's dQ rows [Br, DimPad].</summary>
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
