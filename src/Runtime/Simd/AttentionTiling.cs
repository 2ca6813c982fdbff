using System.ComponentModel;

namespace AttnGen;

/// <summary>
/// The shape of one layer's attention core and its tiling on one vector path, as a generated kernel file states it
/// for <see cref="VectorAttention{TOps, TVec}"/>: the counts the drivers loop over (each register-tile kernel in
/// <see cref="AttentionKernels"/> is specialised on its own tile and loops over the columns it is given).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class AttentionTiling
{
    /// <summary>Creates the tiling; the generated code passes its constants.</summary>
    public AttentionTiling(
        int heads, int kvHeads, int headDim, int seqLen, int kvSeqLen, bool causal, float scale,
        int queryRows, int keyBlock, int scoreColumns, int scoreStep, int updateRows, int dimPad)
    {
        if (scoreColumns <= 0 || keyBlock % scoreColumns != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(scoreColumns), scoreColumns,
                $"Expected a positive divisor of the key block ({keyBlock}); got {scoreColumns}.");
        }
        if (scoreStep <= 0 || scoreColumns % scoreStep != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(scoreStep), scoreStep,
                $"Expected a positive divisor of the score tile's keys ({scoreColumns}); got {scoreStep}.");
        }
        if (updateRows <= 0 || scoreColumns % updateRows != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(updateRows), updateRows,
                $"Expected a positive divisor of the score tile's keys ({scoreColumns}); got {updateRows}.");
        }
        Heads = heads;
        KvHeads = kvHeads;
        HeadDim = headDim;
        SeqLen = seqLen;
        KvSeqLen = kvSeqLen;
        Causal = causal;
        Scale = scale;
        QueryRows = queryRows;
        KeyBlock = keyBlock;
        ScoreColumns = scoreColumns;
        ScoreStep = scoreStep;
        UpdateRows = updateRows;
        GroupSize = heads / kvHeads;
        QueryWidth = heads * headDim;
        KvWidth = kvHeads * headDim;
        CausalOffset = kvSeqLen - seqLen;
        KeyPad = (kvSeqLen + keyBlock - 1) / keyBlock * keyBlock;
        DimPad = dimPad;
    }

    /// <summary>Query heads.</summary>
    public int Heads { get; }

    /// <summary>Key/value heads.</summary>
    public int KvHeads { get; }

    /// <summary>Floats per head.</summary>
    public int HeadDim { get; }

    /// <summary>Query rows per sequence.</summary>
    public int SeqLen { get; }

    /// <summary>Key/value rows per sequence.</summary>
    public int KvSeqLen { get; }

    /// <summary>Whether the bottom-right causal mask applies.</summary>
    public bool Causal { get; }

    /// <summary>The score scale (1 for unscaled scores).</summary>
    public float Scale { get; }

    /// <summary>Query rows per tile (Br); the last tile of a sequence may have fewer.</summary>
    public int QueryRows { get; }

    /// <summary>Keys per online-softmax step (Bc), a whole number of score register tiles.</summary>
    public int KeyBlock { get; }

    /// <summary>Keys per score register tile (NR of the Score and Product kernels); divides <see cref="KeyBlock"/>.</summary>
    public int ScoreColumns { get; }

    /// <summary>
    /// The unit a key block's scored keys are rounded up to; divides <see cref="ScoreColumns"/>. The vector width where the
    /// Score and Product kernels compute the columns past their whole tiles one vector at a time (AVX-512), so a block's
    /// scores stop at the vector holding the last key some row sees; else the score tile.
    /// </summary>
    public int ScoreStep { get; }

    /// <summary>Query heads per key/value head.</summary>
    public int GroupSize { get; }

    /// <summary>Row stride of queries, the context and their gradients.</summary>
    public int QueryWidth { get; }

    /// <summary>Row stride of keys, values and their gradients.</summary>
    public int KvWidth { get; }

    /// <summary>Offset of the query rows into the keys under the bottom-right causal mask.</summary>
    public int CausalOffset { get; }

    /// <summary>Key rows padded to whole key blocks.</summary>
    public int KeyPad { get; }

    /// <summary>
    /// Keys per dV and dK register tile (the Transposed kernel's rows); divides <see cref="ScoreColumns"/>. The backward
    /// updates a key block's dV and dK only up to the last key some row of the pass sees, rounded up to this.
    /// </summary>
    public int UpdateRows { get; }

    /// <summary>HeadDim padded to whole vectors: the row stride of every attention tile.</summary>
    public int DimPad { get; }

    /// <summary>
    /// The keys of a key block a tile scores when <paramref name="keysLeft"/> keys from the block's start are visible to
    /// its last row: all of them rounded up to <see cref="ScoreStep"/>, at most the block. The boundary
    /// block of a length that is not a multiple of the block, and the causal diagonal block, are scored only as far as
    /// some row sees; the masks then cover the keys past each row's limit within those.
    /// </summary>
    public int BlockKeys(int keysLeft) => Math.Min(KeyBlock, (keysLeft + ScoreStep - 1) / ScoreStep * ScoreStep);

    /// <summary>
    /// The keys of a key block whose dV and dK the backward updates when <paramref name="keysLeft"/> keys from the
    /// block's start are visible to a pass's last row: all of them rounded up to whole update tiles
    /// (<see cref="UpdateRows"/>), at most the block. Where the update tile does not divide <see cref="ScoreStep"/> this
    /// can pass <see cref="BlockKeys"/>; the backward clears P and dS between the two.
    /// </summary>
    public int UpdateKeys(int keysLeft) => Math.Min(KeyBlock, (keysLeft + UpdateRows - 1) / UpdateRows * UpdateRows);

    /// <summary>The keys query row <paramref name="row"/> of the sequence sees: below the result.</summary>
    public int VisibleKeys(int row, int validLength) => Causal ? Math.Min(validLength, row + CausalOffset + 1) : validLength;
}
