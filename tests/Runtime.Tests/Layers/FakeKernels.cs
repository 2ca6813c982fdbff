using System.Collections.Concurrent;
using AttnGen.Runtime.Tests.Support;

namespace AttnGen.Runtime.Tests.Layers;

/// <summary>The sequence lengths of a fake layer (every width is <see cref="FakeMath.Width"/>).</summary>
public interface IFakeShape
{
    static abstract int SeqLen { get; }

    static abstract int KvSeqLen { get; }
}

/// <summary>Queries of 3 rows over 4 key/value rows: lengths differ, so a stride mix-up shows.</summary>
public struct CrossShape : IFakeShape
{
    public static int SeqLen => 3;

    public static int KvSeqLen => 4;
}

/// <summary>3 rows over 3 rows, one input: the self-attention overloads.</summary>
public struct SelfShape : IFakeShape
{
    public static int SeqLen => 3;

    public static int KvSeqLen => 3;
}

/// <summary>One kernel call as the fake kernels saw it.</summary>
/// <param name="Query">Address of the sequence's query rows (Forward) or output gradient rows (Backward).</param>
/// <param name="ValidLength">The valid length passed in.</param>
/// <param name="Isa">The path asked for.</param>
/// <param name="Thread">The managed thread that ran it.</param>
/// <param name="Part">The worker's part of the sequence.</param>
/// <param name="Parts">How many workers shared the sequence.</param>
/// <param name="Scratch">The sequence's shared scratch.</param>
/// <param name="Tiles">The worker's own scratch.</param>
public readonly record struct KernelCall(nint Query, int ValidLength, KernelIsa Isa, int Thread, int Part = 0, int Parts = 1, nint Scratch = 0, nint Tiles = 0);

/// <summary>
/// A hand-written kernel table for the layer core's tests: no attention, but a small computation whose every
/// input matters and whose gradient is exact, so the core's bookkeeping can be checked against
/// <see cref="FakeMath"/>. Per sequence, with <c>a</c> = the packed copy of parameter 0 and <c>b</c> = parameter 1:
/// <c>y[i, c] = a q[i, c] + sum over j &lt; validLength of (b k[j, c] + v[j, c])</c>. Every call is recorded in
/// static, thread-safe logs (one set per shape); the tests that read them live in one class, so xunit runs them
/// one at a time.
/// </summary>
public unsafe struct FakeKernels<TShape> : IAttentionKernels
    where TShape : struct, IFakeShape
{
    private const int Region = 16;
    private static readonly LayerLayout s_parameters = LayerLayout.Create(FakeMath.Width, heads: 1, kvHeads: 1, headDim: FakeMath.Width);

    public static ConcurrentQueue<KernelCall> ForwardCalls { get; } = new();

    public static ConcurrentQueue<KernelCall> BackwardCalls { get; } = new();

    public static ConcurrentQueue<KernelIsa> PackCalls { get; } = new();

    /// <summary>Runs first in every ForwardSequence with the query address: lets a test hold a call open.</summary>
    public static Action<nint>? OnForward { get; set; }

    /// <summary>Runs in every ForwardSequence with the part, before the parts meet: lets a test fail one part.</summary>
    public static Action<int>? OnSplitPhase { get; set; }

    /// <summary>Runs first in every BackwardSequence with the output-gradient address: lets a test fail one sequence.</summary>
    public static Action<nint>? OnBackward { get; set; }

    public static void Reset()
    {
        ForwardCalls.Clear();
        BackwardCalls.Clear();
        PackCalls.Clear();
        OnForward = null;
        OnSplitPhase = null;
        OnBackward = null;
    }

    public static AttentionLayerInfo Info { get; } = new(
        "AttnGen.Runtime.Tests.Layers.FakeLayer", Heads: 1, HeadDim: FakeMath.Width, TShape.SeqLen, KvHeads: 1, TShape.KvSeqLen,
        ModelDim: FakeMath.Width, QueryInputWidth: FakeMath.Width, KvInputWidth: FakeMath.Width, AttentionScoring.DotProduct,
        Causal: false, Bias: true, Projections: true, Scale: 1f);

    public static IReadOnlyList<LayerParameter> Parameters => s_parameters.Parameters;

    // Saved state per sequence: the forward scratch, then log-sum-exp, query, key, value and output, 16 floats each.
    public static LayerBufferLayout Layout { get; } = new(
        ParameterCount: s_parameters.BlockLength, PackedLength: Region, ScratchLength: Region,
        SavedLength: 6 * Region, SavedLse: Region, SavedQuery: 2 * Region, SavedKey: 3 * Region, SavedValue: 4 * Region,
        SavedOutput: 5 * Region, WorkLength: 2 * Region, WorkKeyInput: 0, WorkValueInput: Region);

    /// <summary>The path left out, as <c>AttnGenInstructionSets</c> would leave it out.</summary>
    public const KernelIsa Missing = KernelIsa.Vector128;

    public static bool HasKernels(KernelIsa isa) => isa != Missing;

    public static void PackWeights(KernelIsa isa, float* parameters, float* packed)
    {
        PackCalls.Enqueue(isa);
        packed[0] = parameters[0];
    }

    /// <summary>
    /// Shares a sequence out as a generated layer does: every part sums the keys and values into its own tiles, the
    /// parts meet, then each writes its rows of the output (in place, a part writing its rows before another read
    /// them as keys would be wrong: the meeting point keeps that from happening).
    /// </summary>
    public static void ForwardSequence(KernelIsa isa, float* query, float* key, float* value, float* output, int validLength,
        float* parameters, float* packed, float* scratch, float* lse, float* tiles, SequenceSplit split)
    {
        OnForward?.Invoke((nint)query);
        ForwardCalls.Enqueue(new KernelCall((nint)query, validLength, isa, Environment.CurrentManagedThreadId, split.Part, split.Parts,
            (nint)scratch, (nint)tiles));
        const int w = FakeMath.Width;
        float a = packed[0], b = parameters[1];
        // The key/value sums go to this part's tiles before any output row is written, so output may be the query (in place).
        float* sums = tiles + 1;
        for (int c = 0; c < w; c++)
        {
            float sum = 0f;
            for (int j = 0; j < validLength; j++)
            {
                sum += b * key[j * w + c] + value[j * w + c];
            }
            sums[c] = sum;
        }
        if (split.Part == 0)
        {
            scratch[0] = validLength;
        }
        OnSplitPhase?.Invoke(split.Part);
        split.Sync();
        for (int i = split.Start(TShape.SeqLen); i < split.End(TShape.SeqLen); i++)
        {
            for (int c = 0; c < w; c++)
            {
                output[i * w + c] = a * query[i * w + c] + sums[c];
            }
            if (lse != null)
            {
                lse[i] = FakeMath.Lse(i, validLength);
            }
        }
    }

    public static KernelIsa BackwardSequence(KernelIsa isa, float* saved, float* outputGrad, float* queryGrad, float* keyGrad,
        float* valueGrad, float* parameters, float* gradients, float* work, int validLength, float* tiles, SequenceSplit split)
    {
        OnBackward?.Invoke((nint)outputGrad);
        BackwardCalls.Enqueue(new KernelCall((nint)outputGrad, validLength, isa, Environment.CurrentManagedThreadId, split.Part, split.Parts,
            (nint)work, (nint)tiles));
        // A shared sequence: the parts meet once, as the generated backward's do between its phases, then the first
        // part does it all.
        split.Sync();
        if (split.Part != 0)
        {
            return isa;
        }
        const int w = FakeMath.Width;
        float a = parameters[0], b = parameters[1];
        float* query = saved + Layout.SavedQuery, key = saved + Layout.SavedKey;
        float* output = saved + Layout.SavedOutput, lse = saved + Layout.SavedLse;
        float* columnSums = work + Layout.WorkLength - w;
        float da = 0f, db = 0f, outputDot = 0f, lseSum = 0f;
        for (int c = 0; c < w; c++)
        {
            columnSums[c] = 0f;
        }
        for (int i = 0; i < TShape.SeqLen; i++)
        {
            for (int c = 0; c < w; c++)
            {
                float dy = outputGrad[i * w + c];
                queryGrad[i * w + c] = a * dy;
                da += query[i * w + c] * dy;
                outputDot += output[i * w + c] * dy;
                columnSums[c] += dy;
            }
            lseSum += lse[i];
        }
        for (int j = 0; j < TShape.KvSeqLen; j++)
        {
            for (int c = 0; c < w; c++)
            {
                bool valid = j < validLength;
                keyGrad[j * w + c] = valid ? b * columnSums[c] : 0f;
                valueGrad[j * w + c] = valid ? columnSums[c] : 0f;
                db += valid ? key[j * w + c] * columnSums[c] : 0f;
            }
        }
        gradients[0] += da;
        gradients[1] += db;
        gradients[FakeMath.OutputDotGradient] += outputDot;
        gradients[FakeMath.ValidLengthGradient] += saved[0];
        gradients[FakeMath.LseGradient] += lseSum;
        return isa;
    }
}

/// <summary>A cross-attention layer over the fake kernels.</summary>
public sealed class FakeLayer : AttentionLayer<FakeKernels<CrossShape>>;

/// <summary>A self-attention layer over the fake kernels.</summary>
public sealed class FakeSelfLayer : SelfAttentionLayer<FakeKernels<SelfShape>>;

/// <summary>What the fake kernels compute, in float64 and written independently of them.</summary>
public static class FakeMath
{
    public const int Width = 2;

    // Where the fake backward adds the checks of its saved state (slots of in_proj_weight, any slot would do).
    public const int OutputDotGradient = 2, ValidLengthGradient = 3, LseGradient = 4;

    /// <summary>The "log-sum-exp" the fake forward saves for row <paramref name="row"/>.</summary>
    public static float Lse(int row, int validLength) => 10 * row + validLength;

    /// <summary>Forward of one batch: <c>y[i, c] = a q[i, c] + sum over valid j of (b k[j, c] + v[j, c])</c>.</summary>
    public static double[] Forward(float[] q, float[] k, float[] v, int seqLen, int kvSeqLen, int batch, int[] validLengths, double a, double b)
    {
        var y = new double[batch * seqLen * Width];
        for (int s = 0; s < batch; s++)
        {
            for (int c = 0; c < Width; c++)
            {
                double sum = 0;
                for (int j = 0; j < validLengths[s]; j++)
                {
                    int at = (s * kvSeqLen + j) * Width + c;
                    sum += b * k[at] + v[at];
                }
                for (int i = 0; i < seqLen; i++)
                {
                    int at = (s * seqLen + i) * Width + c;
                    y[at] = a * q[at] + sum;
                }
            }
        }
        return y;
    }

    /// <summary>Input gradients of one batch, and the gradients of a and b summed over it.</summary>
    public static (double[] Dq, double[] Dk, double[] Dv, double Da, double Db) Backward(
        float[] q, float[] k, float[] dy, int seqLen, int kvSeqLen, int batch, int[] validLengths, double a, double b)
    {
        var dq = new double[batch * seqLen * Width];
        var dk = new double[batch * kvSeqLen * Width];
        var dv = new double[batch * kvSeqLen * Width];
        double da = 0, db = 0;
        for (int s = 0; s < batch; s++)
        {
            for (int c = 0; c < Width; c++)
            {
                double column = 0;
                for (int i = 0; i < seqLen; i++)
                {
                    int at = (s * seqLen + i) * Width + c;
                    dq[at] = a * dy[at];
                    da += q[at] * (double)dy[at];
                    column += dy[at];
                }
                for (int j = 0; j < validLengths[s]; j++)
                {
                    int at = (s * kvSeqLen + j) * Width + c;
                    dk[at] = b * column;
                    dv[at] = column;
                    db += k[at] * column;
                }
            }
        }
        return (dq, dk, dv, da, db);
    }
}
