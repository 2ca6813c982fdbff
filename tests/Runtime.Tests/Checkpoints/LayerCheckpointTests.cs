using AttnGen.Runtime.Tests.Support;

namespace AttnGen.Runtime.Tests.Checkpoints;

public sealed class LayerCheckpointTests : IDisposable
{
    private const string Layer = "EncoderSelfAttention";

    private readonly TempDirectory _dir = new();

    // Grouped-query layer: 4 query heads, 2 key/value heads of width 3, model width 10.
    private readonly LayerLayout _layout = LayerLayout.Create(modelDim: 10, heads: 4, kvHeads: 2, headDim: 3);

    public void Dispose() => _dir.Dispose();

    private sealed record Tensor(string Name, long[] Shape, float[] Values, SafeTensorsDType DType = SafeTensorsDType.F32);

    /// <summary>Writes a file with exactly these tensors, in this order.</summary>
    private string WriteFile(string name, params Tensor[] tensors)
    {
        string path = _dir.File(name);
        using var stream = File.Create(path);
        SafeTensorsWriter writer = SafeTensorsWriter.Begin(stream, tensors.Select(t => new SafeTensorDeclaration(t.Name, t.Shape, t.DType)).ToArray());
        foreach (Tensor t in tensors)
        {
            writer.WriteNext(t.Values);
        }
        writer.Complete();
        return path;
    }

    /// <summary>The layer's parameters from <paramref name="block"/> as tensors named prefix + name.</summary>
    private Tensor[] TensorsOf(float[] block, string prefix = "")
        => _layout.Parameters.Select(p => new Tensor(prefix + p.Name, p.Shape.Select(d => (long)d).ToArray(), block.AsSpan(p.Offset, p.Length).ToArray())).ToArray();

    private static float[] Seeded(int count, ulong seed)
    {
        var values = new float[count];
        new SeededRandom(seed).FillUniform(values, -1f, 1f);
        return values;
    }

    /// <summary>Runs a load that must fail and checks that the block did not change.</summary>
    private T LoadFails<T>(string path, string prefix = "")
        where T : Exception
    {
        float[] block = _layout.NewBlock(seed: 99, padding: 7f);
        float[] before = (float[])block.Clone();
        T e = Assert.Throws<T>(() => _layout.Load(path, block, prefix, Layer));
        Assert.Equal(before, block);
        return e;
    }

    /// <summary>
    /// Runs a load that must fail with <paramref name="mismatch"/> on <paramref name="tensor"/>, and checks that
    /// the exception and its message name the file, the layer and the tensor.
    /// </summary>
    private CheckpointMismatchException LoadMismatch(string path, CheckpointMismatch mismatch, string tensor, string prefix = "")
    {
        var e = LoadFails<CheckpointMismatchException>(path, prefix);
        Assert.Equal(mismatch, e.Mismatch);
        Assert.Equal(path, e.FilePath);
        Assert.Equal(Layer, e.LayerName);
        Assert.Equal(tensor, e.TensorName);
        Assert.Contains($"'{path}'", e.Message, StringComparison.Ordinal);
        Assert.Contains($"'{Layer}'", e.Message, StringComparison.Ordinal);
        Assert.Contains($"'{tensor}'", e.Message, StringComparison.Ordinal);
        return e;
    }

    [Fact]
    public void WrongShapeLeavesTheBlockUnchangedAndNamesBothShapes()
    {
        Tensor[] tensors = TensorsOf(_layout.NewBlock(1));
        tensors[2] = tensors[2] with { Shape = [10, 11], Values = Seeded(110, 2) }; // out_proj.weight is [10, 12]
        string path = WriteFile("shape.safetensors", tensors);

        var e = LoadMismatch(path, CheckpointMismatch.ShapeMismatch, "out_proj.weight");
        Assert.Equal([10L, 12L], e.ExpectedShape);
        Assert.Equal([10L, 11L], e.ActualShape);
        Assert.Contains("[10, 11]", e.Message, StringComparison.Ordinal);
        Assert.Contains("[10, 12]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TransposedShapeIsAMismatch()
    {
        Tensor[] tensors = TensorsOf(_layout.NewBlock(1));
        tensors[2] = tensors[2] with { Shape = [12, 10] };
        string path = WriteFile("transposed.safetensors", tensors);

        LoadMismatch(path, CheckpointMismatch.ShapeMismatch, "out_proj.weight");
    }

    [Fact]
    public void MissingTensorsLeaveTheBlockUnchangedAndAreAllNamed()
    {
        Tensor[] tensors = TensorsOf(_layout.NewBlock(1), "enc.");
        string path = WriteFile("missing.safetensors", tensors[0], tensors[2]);

        var e = LoadMismatch(path, CheckpointMismatch.MissingTensor, "enc.in_proj_bias", "enc.");
        Assert.Equal([24L], e.ExpectedShape);
        Assert.Null(e.ActualShape);
        Assert.Contains("'enc.out_proj.bias'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnexpectedTensorUnderThePrefixLeavesTheBlockUnchanged()
    {
        Tensor[] tensors = TensorsOf(_layout.NewBlock(1), "enc.");
        string path = WriteFile("unexpected.safetensors", [.. tensors, new Tensor("enc.bias_k", [1, 1, 10], Seeded(10, 3))]);

        var e = LoadMismatch(path, CheckpointMismatch.UnexpectedTensor, "enc.bias_k", "enc.");
        Assert.Null(e.ExpectedShape);
        Assert.Equal([1L, 1L, 10L], e.ActualShape);
        Assert.Contains("[1, 1, 10]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnsupportedDTypeLeavesTheBlockUnchanged()
    {
        // in_proj_bias [24] stored as I64: 192 bytes, assembled by hand (the writer only writes floats).
        const string header = """{"in_proj_weight":{"dtype":"F32","shape":[24,10],"data_offsets":[0,960]},"in_proj_bias":{"dtype":"I64","shape":[24],"data_offsets":[960,1152]},"out_proj.weight":{"dtype":"F32","shape":[10,12],"data_offsets":[1152,1632]},"out_proj.bias":{"dtype":"F32","shape":[10],"data_offsets":[1632,1672]}}""";
        string path = _dir.Write("ints.safetensors", RawFile.Build(header, new byte[1672]));

        var e = LoadMismatch(path, CheckpointMismatch.UnsupportedDType, "in_proj_bias");
        Assert.Contains("I64", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SeparateProjectionWeightsLoadLikeInProjWeight()
    {
        float[] source = _layout.NewBlock(4);
        Tensor[] stacked = TensorsOf(source, "m.");
        float[] inProj = stacked[0].Values;
        // q: rows 0..11, k: rows 12..17, v: rows 18..23 of the [24, 10] in_proj_weight.
        Tensor[] separate =
        [
            new("m.q_proj_weight", [12, 10], inProj[..120]),
            new("m.k_proj_weight", [6, 10], inProj[120..180], SafeTensorsDType.F32),
            new("m.v_proj_weight", [6, 10], inProj[180..]),
            .. stacked[1..],
        ];
        string stackedPath = WriteFile("stacked.safetensors", stacked);
        string separatePath = WriteFile("separate.safetensors", Enumerable.Reverse(separate).ToArray());

        float[] fromStacked = new float[_layout.BlockLength];
        float[] fromSeparate = new float[_layout.BlockLength];
        _layout.Load(stackedPath, fromStacked, "m.");
        _layout.Load(separatePath, fromSeparate, "m.");

        Assert.Equal(source, fromStacked);
        Assert.Equal(fromStacked, fromSeparate);
    }

    [Fact]
    public void SeparateProjectionWeightsMustBeComplete()
    {
        Tensor[] stacked = TensorsOf(_layout.NewBlock(4));
        string path = WriteFile("partial.safetensors",
            [new("q_proj_weight", [12, 10], Seeded(120, 1)), new("k_proj_weight", [6, 10], Seeded(60, 2)), .. stacked[1..]]);

        var e = LoadMismatch(path, CheckpointMismatch.MissingTensor, "v_proj_weight");
        Assert.Equal([6L, 10L], e.ExpectedShape);
    }

    [Fact]
    public void SeparateProjectionWeightsHaveTheirOwnShapes()
    {
        Tensor[] stacked = TensorsOf(_layout.NewBlock(4));
        string path = WriteFile("qkvshape.safetensors",
            [new("q_proj_weight", [12, 10], Seeded(120, 1)), new("k_proj_weight", [12, 10], Seeded(120, 2)), new("v_proj_weight", [6, 10], Seeded(60, 3)), .. stacked[1..]]);

        var e = LoadMismatch(path, CheckpointMismatch.ShapeMismatch, "k_proj_weight");
        Assert.Equal([6L, 10L], e.ExpectedShape);
        Assert.Equal([12L, 10L], e.ActualShape);
    }

    [Fact]
    public void BothProjectionFormsAtOnceAreRejected()
    {
        Tensor[] stacked = TensorsOf(_layout.NewBlock(4));
        string path = WriteFile("both.safetensors", [.. stacked, new("q_proj_weight", [12, 10], Seeded(120, 1))]);

        var e = LoadMismatch(path, CheckpointMismatch.UnexpectedTensor, "q_proj_weight");
        Assert.Contains("one form", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PrefixSelectsOneLayerOfAWholeModel()
    {
        float[] first = _layout.NewBlock(10);
        float[] second = _layout.NewBlock(20);
        string path = WriteFile("model.safetensors",
        [
            new("embed.weight", [5, 10], Seeded(50, 1)),
            .. TensorsOf(first, "encoder.layers.0.self_attn."),
            new("encoder.layers.0.self_attn_layer_norm.weight", [10], Seeded(10, 2), SafeTensorsDType.BF16),
            .. TensorsOf(second, "encoder.layers.1.self_attn."),
            new("encoder.layers.10.self_attn.in_proj_bias", [3], Seeded(3, 3)),
        ]);

        float[] loaded = new float[_layout.BlockLength];
        _layout.Load(path, loaded, "encoder.layers.1.self_attn.");
        Assert.Equal(second, loaded);
        _layout.Load(path, loaded, "encoder.layers.0.self_attn.");
        Assert.Equal(first, loaded);
    }

    [Fact]
    public void WrongPrefixSuggestsTheRightOne()
    {
        string path = WriteFile("prefixed.safetensors", TensorsOf(_layout.NewBlock(1), "encoder.layers.0.self_attn."));

        var e = LoadMismatch(path, CheckpointMismatch.MissingTensor, "decoder.in_proj_weight", "decoder.");
        Assert.Contains("'encoder.layers.0.self_attn.'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EmptyPrefixMakesEveryTensorCount()
    {
        string path = WriteFile("prefixed.safetensors", TensorsOf(_layout.NewBlock(1), "attn."));

        var e = LoadMismatch(path, CheckpointMismatch.MissingTensor, "in_proj_weight");

        Assert.Contains("Did you mean prefix 'attn.'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PrefixWithoutADotWarnsAboutSiblingModules()
    {
        string path = WriteFile("sibling.safetensors",
            [.. TensorsOf(_layout.NewBlock(1), "layer.self_attn."), new("layer.self_attn_norm.weight", [10], Seeded(10, 1))]);

        // "layer.self_attnin_proj_weight" does not exist; the prefix that does is suggested.
        var e = LoadMismatch(path, CheckpointMismatch.MissingTensor, "layer.self_attnin_proj_weight", "layer.self_attn");
        Assert.Contains("Did you mean prefix 'layer.self_attn.'", e.Message, StringComparison.Ordinal);
        float[] loaded = new float[_layout.BlockLength];
        _layout.Load(path, loaded, "layer.self_attn.");

        string exact = WriteFile("sibling2.safetensors",
            [.. TensorsOf(_layout.NewBlock(1), "x"), new("x_norm.weight", [10], Seeded(10, 1))]);
        var sibling = LoadMismatch(exact, CheckpointMismatch.UnexpectedTensor, "x_norm.weight", "x");
        Assert.Contains("does not end with '.'", sibling.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MixedDTypesLoadAsFloats()
    {
        float[] source = _layout.NewBlock(6);
        Tensor[] tensors = TensorsOf(source);
        tensors[0] = tensors[0] with { DType = SafeTensorsDType.F16 };
        tensors[2] = tensors[2] with { DType = SafeTensorsDType.BF16 };
        string path = WriteFile("mixed.safetensors", tensors);

        float[] loaded = new float[_layout.BlockLength];
        _layout.Load(path, loaded);

        LayerParameter w = _layout["in_proj_weight"];
        LayerParameter o = _layout["out_proj.weight"];
        LayerParameter b = _layout["in_proj_bias"];
        Assert.Equal(source.AsSpan(w.Offset, w.Length).ToArray().Select(v => (float)(Half)v), loaded.AsSpan(w.Offset, w.Length).ToArray());
        Assert.Equal(source.AsSpan(b.Offset, b.Length).ToArray(), loaded.AsSpan(b.Offset, b.Length).ToArray());
        for (int i = 0; i < o.Length; i++)
        {
            Assert.Equal(source[o.Offset + i], loaded[o.Offset + i], 0.01f);
        }
    }

    [Fact]
    public void LayerWithoutProjectionsHasOnlyAdditiveV()
    {
        var layout = LayerLayout.Create(modelDim: 8, heads: 2, kvHeads: 2, headDim: 4, projections: false, additive: true);
        float[] block = layout.NewBlock(8);
        string path = _dir.File("additive.safetensors");
        layout.Save(path, block);

        float[] loaded = new float[layout.BlockLength];
        layout.Load(path, loaded);

        Assert.Equal(block, loaded);
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        Assert.Equal(["additive_v"], file.Tensors.Select(t => t.Name));
    }

    [Fact]
    public void PaddingBetweenParametersIsLeftAlone()
    {
        float[] source = _layout.NewBlock(3, padding: 5f);
        string path = _dir.File("padding.safetensors");
        _layout.Save(path, source);

        float[] loaded = new float[_layout.BlockLength];
        loaded.AsSpan().Fill(-1f);
        _layout.Load(path, loaded);

        for (int i = 0; i < loaded.Length; i++)
        {
            bool inParameter = _layout.Parameters.Any(p => i >= p.Offset && i < p.Offset + p.Length);
            Assert.Equal(inParameter ? source[i] : -1f, loaded[i]);
        }
    }

    [Fact]
    public void SaveReplacesTheFileAndLeavesNoTemporaryFile()
    {
        string path = _dir.File("replace.safetensors");
        _layout.Save(path, _layout.NewBlock(1));
        float[] second = _layout.NewBlock(2);
        _layout.Save(path, second);

        float[] loaded = new float[_layout.BlockLength];
        _layout.Load(path, loaded);
        Assert.Equal(second, loaded);
        Assert.Equal(["replace.safetensors"], Directory.GetFiles(_dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void FailedSaveKeepsTheOldFileAndDeletesTheTemporaryOne()
    {
        string path = _dir.File("keep.safetensors");
        float[] first = _layout.NewBlock(1);
        _layout.Save(path, first);
        byte[] before = File.ReadAllBytes(path);

        // A null metadata value is found while the header is built, after the temporary file exists.
        var metadata = new Dictionary<string, string> { ["ok"] = "1", ["bad"] = null! };
        Assert.Throws<ArgumentNullException>(() => _layout.Save(path, _layout.NewBlock(2), metadata: metadata));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(["keep.safetensors"], Directory.GetFiles(_dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void SaveIntoAMissingFolderFailsWithoutLeavingFiles()
    {
        string path = Path.Combine(_dir.Path, "absent", "x.safetensors");
        Assert.Throws<DirectoryNotFoundException>(() => _layout.Save(path, _layout.NewBlock(1)));
        Assert.Empty(Directory.GetFileSystemEntries(_dir.Path));
    }

    [Fact]
    public void InconsistentLayoutsAreArgumentErrors()
    {
        float[] block = _layout.NewBlock(1);
        string path = _dir.File("args.safetensors");
        _layout.Save(path, block);

        Assert.Throws<ArgumentException>(() => LayerCheckpoint.Load(path, "", block.AsSpan(0, 100), _layout.Parameters, _layout.QueryRows, _layout.KvRows, Layer));
        Assert.Throws<ArgumentException>(() => LayerCheckpoint.Load(path, "", block, _layout.Parameters, _layout.QueryRows + 1, _layout.KvRows, Layer));
        Assert.Throws<ArgumentException>(() => LayerCheckpoint.Save(path, "", block.AsSpan(0, 10), _layout.Parameters));
        Assert.Throws<ArgumentException>(() => LayerCheckpoint.Save(path, "", block, _layout.Parameters, dtype: SafeTensorsDType.F64));
        Assert.Throws<FileNotFoundException>(() => LayerCheckpoint.Load(_dir.File("absent"), "", block, _layout.Parameters, _layout.QueryRows, _layout.KvRows, Layer));
    }
}
