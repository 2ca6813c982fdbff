namespace AttnGen.Runtime.Tests.Support;

/// <summary>
/// A parameter list laid out the way generated layers lay theirs out: PyTorch nn.MultiheadAttention order,
/// then additive_v, each parameter starting on a 16-float boundary.
/// </summary>
public sealed record LayerLayout(IReadOnlyList<LayerParameter> Parameters, int BlockLength, int QueryRows, int KvRows)
{
    public static LayerLayout Create(int modelDim, int heads, int kvHeads, int headDim, bool projections = true, bool bias = true, bool additive = false)
    {
        int queryRows = heads * headDim;
        int kvRows = kvHeads * headDim;
        var list = new List<LayerParameter>();
        int offset = 0;
        void Add(string name, params int[] shape)
        {
            var p = new LayerParameter(name, shape, offset, InitKind.Zeros, 1, 1);
            list.Add(p);
            offset += (p.Length + 15) / 16 * 16;
        }
        if (projections)
        {
            Add("in_proj_weight", queryRows + 2 * kvRows, modelDim);
            if (bias)
            {
                Add("in_proj_bias", queryRows + 2 * kvRows);
            }
            Add("out_proj.weight", modelDim, queryRows);
            if (bias)
            {
                Add("out_proj.bias", modelDim);
            }
        }
        if (additive)
        {
            Add("additive_v", heads, headDim);
        }
        return new LayerLayout(list, offset, queryRows, kvRows);
    }

    public LayerParameter this[string name] => Parameters.Single(p => p.Name == name);

    /// <summary>A block whose parameters hold seeded values and whose padding holds <paramref name="padding"/>.</summary>
    public float[] NewBlock(ulong seed, float padding = 0f)
    {
        var block = new float[BlockLength];
        block.AsSpan().Fill(padding);
        var random = new SeededRandom(seed);
        foreach (LayerParameter p in Parameters)
        {
            random.FillUniform(block.AsSpan(p.Offset, p.Length), -2f, 2f);
        }
        return block;
    }

    public void Load(string path, float[] block, string prefix = "", string layerName = "TestLayer")
        => LayerCheckpoint.Load(path, prefix, block, Parameters, QueryRows, KvRows, layerName);

    public void Save(string path, float[] block, string prefix = "", SafeTensorsDType dtype = SafeTensorsDType.F32, IReadOnlyDictionary<string, string>? metadata = null)
        => LayerCheckpoint.Save(path, prefix, block, Parameters, metadata, dtype);
}
