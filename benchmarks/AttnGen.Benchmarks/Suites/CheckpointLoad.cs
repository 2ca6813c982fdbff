using BenchmarkDotNet.Attributes;

namespace AttnGen.Benchmarks.Suites;

/// <summary>
/// <c>LayerCheckpoint.Load</c> of one large layer (ModelDim 4096: 67,125,248 parameters, 268 MB as F32,
/// 134 MB as BF16) from a file written once in setup. The file stays in the page cache between iterations,
/// so this measures the reader (open, validate, copy and convert), not the disk.
/// </summary>
public class CheckpointLoad_M4096
{
    private const int ModelDim = 4096;

    private readonly LayerParameter[] _parameters = BuildParameters();
    private string _dir = "";
    private string _path = "";
    private float[] _block = [];

    /// <summary>The dtype the file stores.</summary>
    [Params(SafeTensorsDType.F32, SafeTensorsDType.BF16)]
    public SafeTensorsDType DType { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _dir = Directory.CreateTempSubdirectory("attngen-bench-load-").FullName;
        _path = Path.Combine(_dir, "layer.safetensors");
        int length = _parameters[^1].Offset + _parameters[^1].Length;
        var source = new float[length];
        new SeededRandom(7).FillUniform(source, -1f, 1f);
        LayerCheckpoint.Save(_path, "", source, _parameters, dtype: DType);
        _block = new float[length];
        Load();
        // The writer rounds BF16; F32 must come back exactly.
        if (DType == SafeTensorsDType.F32 && !source.AsSpan().SequenceEqual(_block))
        {
            throw new InvalidOperationException("The loaded checkpoint differs from the saved one.");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_dir, recursive: true);

    [Benchmark(Baseline = true, Description = "LayerCheckpoint.Load")]
    public void Load() => LayerCheckpoint.Load(_path, "", _block, _parameters, ModelDim, ModelDim, "Bench");

    private static LayerParameter[] BuildParameters()
    {
        const int D = ModelDim;
        var list = new List<LayerParameter>();
        int offset = 0;
        void Add(string name, int[] shape)
        {
            var p = new LayerParameter(name, shape, offset, InitKind.Zeros, D, D);
            list.Add(p);
            offset += (p.Length + 15) / 16 * 16;
        }
        Add("in_proj_weight", [3 * D, D]);
        Add("in_proj_bias", [3 * D]);
        Add("out_proj.weight", [D, D]);
        Add("out_proj.bias", [D]);
        return [.. list];
    }
}
