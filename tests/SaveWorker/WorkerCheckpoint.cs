using AttnGen;

namespace AttnGen.SaveWorker;

/// <summary>
/// The checkpoint the worker saves: a 1024-wide attention layer (about 16 MB of F32), whose every value is
/// a function of a generation number, so a reader can tell a whole file from a torn one.
/// </summary>
public static class WorkerCheckpoint
{
    /// <summary>Model width.</summary>
    public const int ModelDim = 1024;

    /// <summary>Metadata key holding the generation.</summary>
    public const string GenerationKey = "generation";

    /// <summary>Prefix of every tensor name.</summary>
    public const string Prefix = "worker.self_attn.";

    /// <summary>Parameters in PyTorch nn.MultiheadAttention order.</summary>
    public static IReadOnlyList<LayerParameter> Parameters { get; } = Build();

    /// <summary>Floats in the parameter block.</summary>
    public static int BlockLength { get; } = Parameters[^1].Offset + Parameters[^1].Length;

    /// <summary>The value at <paramref name="index"/> of generation <paramref name="generation"/>; exact in float.</summary>
    public static float Value(long generation, int index)
        => (int)(((ulong)generation * 0x9E3779B97F4A7C15UL ^ (ulong)index * 0xBF58476D1CE4E5B9UL) >> 48) - 32768;

    /// <summary>Fills a block with generation <paramref name="generation"/>.</summary>
    public static void Fill(Span<float> block, long generation)
    {
        for (int i = 0; i < block.Length; i++)
        {
            block[i] = Value(generation, i);
        }
    }

    private static LayerParameter[] Build()
    {
        const int D = ModelDim;
        var list = new List<LayerParameter>();
        int offset = 0;
        void Add(string name, int[] shape)
        {
            var p = new LayerParameter(name, shape, offset, InitKind.Zeros, D, D);
            list.Add(p);
            offset += p.Length;
        }
        Add("in_proj_weight", [3 * D, D]);
        Add("in_proj_bias", [3 * D]);
        Add("out_proj.weight", [D, D]);
        Add("out_proj.bias", [D]);
        return list.ToArray();
    }
}
