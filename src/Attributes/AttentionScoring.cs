namespace AttnGen
{
    /// <summary>How an attention layer scores a query against a key.</summary>
    public enum AttentionScoring
    {
        /// <summary><c>q·k / sqrt(headDim)</c> (or <c>q·k · Scale</c> when <see cref="AttentionLayerAttribute.Scale"/> is set).</summary>
        ScaledDotProduct = 0,

        /// <summary><c>q·k</c>, unscaled.</summary>
        DotProduct = 1,

        /// <summary>
        /// Bahdanau (additive) scoring in multi-head form: <c>v_h · tanh(q + k)</c> per head, where
        /// <c>v_h</c> is the learned parameter <c>additive_v[h, :]</c>.
        /// </summary>
        Additive = 2,
    }
}
