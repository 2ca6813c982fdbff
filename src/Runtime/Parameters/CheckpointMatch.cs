namespace AttnGen;

/// <summary>A tensor to decode and where its values go in the staging array (parameters in order, back to back).</summary>
internal readonly record struct TensorSlot(SafeTensorInfo Tensor, int StagingOffset);

/// <summary>
/// Matches the tensors of a file under a prefix to a layer's parameters, and turns every way they do not
/// fit into a <see cref="CheckpointMismatchException"/>.
/// </summary>
internal sealed class CheckpointMatch
{
    private readonly SafeTensorsFile _file;
    private readonly string _prefix;
    private readonly string _layerName;
    private readonly Dictionary<string, SafeTensorInfo> _underPrefix = new(StringComparer.Ordinal);

    public CheckpointMatch(SafeTensorsFile file, string prefix, string layerName)
    {
        _file = file;
        _prefix = prefix;
        _layerName = layerName;
        foreach (SafeTensorInfo t in file.Tensors)
        {
            if (t.Name.StartsWith(prefix, StringComparison.Ordinal))
            {
                _underPrefix.Add(t.Name.Substring(prefix.Length), t);
            }
        }
    }

    /// <summary>
    /// The tensor for every parameter (three for in_proj_weight stored as q, k and v) and the staging length,
    /// after checking that none is missing, none is unexpected, and each has the declared shape and a
    /// float-convertible dtype.
    /// </summary>
    public (List<TensorSlot> Slots, int StagingLength) Plan(IReadOnlyList<LayerParameter> parameters, int queryRows, int kvRows)
    {
        var wanted = new List<(string Name, long[] Shape, int StagingOffset)>();
        int staging = 0;
        foreach (LayerParameter p in parameters)
        {
            if (p.Name == LayerCheckpoint.InProjWeight && !_underPrefix.ContainsKey(p.Name)
                && LayerCheckpoint.SeparateProjectionWeights.Any(_underPrefix.ContainsKey))
            {
                // PyTorch's separate form: q, k and v weights whose rows stack into in_proj_weight.
                int columns = p.Shape[1];
                int[] rows = [queryRows, kvRows, kvRows];
                int offset = staging;
                for (int i = 0; i < rows.Length; i++)
                {
                    wanted.Add((LayerCheckpoint.SeparateProjectionWeights[i], [rows[i], columns], offset));
                    offset += rows[i] * columns;
                }
            }
            else
            {
                wanted.Add((p.Name, LayerCheckpoint.ToLongShape(p.Shape), staging));
            }
            staging += p.Length;
        }

        var missing = wanted.Where(w => !_underPrefix.ContainsKey(w.Name)).ToList();
        if (missing.Count > 0)
        {
            throw Missing(missing.Select(m => (m.Name, m.Shape)).ToList(), parameters);
        }
        var expectedNames = new HashSet<string>(wanted.Select(w => w.Name), StringComparer.Ordinal);
        var unexpected = _underPrefix.Where(kv => !expectedNames.Contains(kv.Key)).Select(kv => kv.Value).OrderBy(t => t.DataBegin).ToList();
        if (unexpected.Count > 0)
        {
            throw Unexpected(unexpected, parameters);
        }

        var slots = new List<TensorSlot>(wanted.Count);
        foreach ((string name, long[] shape, int stagingOffset) in wanted)
        {
            SafeTensorInfo tensor = _underPrefix[name];
            if (!tensor.Shape.AsSpan().SequenceEqual(shape))
            {
                throw Fail(tensor.Name, CheckpointMismatch.ShapeMismatch, shape, tensor.Shape,
                    $"tensor '{tensor.Name}' has shape {tensor.ShapeText}; the layer expects {SafeTensorInfo.FormatShape(shape)}.");
            }
            if (!SafeTensorsDTypes.IsFloatConvertible(tensor.DType))
            {
                throw Fail(tensor.Name, CheckpointMismatch.UnsupportedDType, shape, tensor.Shape,
                    $"tensor '{tensor.Name}' {tensor.ShapeText} has dtype {tensor.DType}; only {SafeTensorsDTypes.FloatConvertible} can be loaded.");
            }
            slots.Add(new TensorSlot(tensor, stagingOffset));
        }
        return (slots, staging);
    }

    private CheckpointMismatchException Missing(List<(string Name, long[] Shape)> missing, IReadOnlyList<LayerParameter> parameters)
    {
        (string first, long[] shape) = missing[0];
        string also = missing.Count > 1
            ? $" (also missing: {LayerCheckpoint.ListNames(missing.Skip(1).Select(m => _prefix + m.Name))})"
            : "";
        string found = _underPrefix.Count == 0
            ? (_prefix.Length == 0 ? "The file holds no tensors." : $"The file holds no tensors under prefix '{_prefix}'.")
            : _prefix.Length == 0
                ? $"The file holds {LayerCheckpoint.ListNames(_underPrefix.Keys)}."
                : $"Under prefix '{_prefix}' the file holds {LayerCheckpoint.ListNames(_underPrefix.Keys)}.";
        string hint = SuggestPrefixes(first);
        string separate = first == LayerCheckpoint.InProjWeight && parameters.Any(p => p.Name == LayerCheckpoint.InProjWeight)
            ? $" ('{LayerCheckpoint.InProjWeight}' may also be given as {LayerCheckpoint.ListNames(LayerCheckpoint.SeparateProjectionWeights)}.)"
            : "";
        return Fail(_prefix + first, CheckpointMismatch.MissingTensor, shape, null,
            $"tensor '{_prefix + first}' {SafeTensorInfo.FormatShape(shape)} is missing{also}. {found}{hint}{separate}");
    }

    private CheckpointMismatchException Unexpected(List<SafeTensorInfo> unexpected, IReadOnlyList<LayerParameter> parameters)
    {
        SafeTensorInfo first = unexpected[0];
        string also = unexpected.Count > 1
            ? $" (so are {LayerCheckpoint.ListNames(unexpected.Skip(1).Select(t => t.Name))})"
            : "";
        string why = LayerCheckpoint.SeparateProjectionWeights.Contains(first.Name.Substring(_prefix.Length))
            ? $" The file holds both '{_prefix}{LayerCheckpoint.InProjWeight}' and separate q/k/v projection weights; it should hold one form."
            : "";
        string dot = _prefix.Length > 0 && !_prefix.EndsWith('.')
            ? $" The prefix '{_prefix}' does not end with '.', so tensors of other modules whose names start with it count as this layer's."
            : "";
        return Fail(first.Name, CheckpointMismatch.UnexpectedTensor, null, first.Shape,
            $"tensor '{first.Name}' {first.ShapeText} is not a parameter of this layer{also}; its parameters are "
            + $"{LayerCheckpoint.ListNames(parameters.Select(p => p.Name))}.{why}{dot}");
    }

    /// <summary>Where the file holds the missing name under other prefixes, suggests those prefixes.</summary>
    private string SuggestPrefixes(string missingName)
    {
        var prefixes = _file.Tensors
            .Select(t => t.Name)
            .Where(n => n.EndsWith(missingName, StringComparison.Ordinal) && n.Length > missingName.Length && n[n.Length - missingName.Length - 1] == '.')
            .Select(n => n.Substring(0, n.Length - missingName.Length))
            .Where(p => p != _prefix)
            .ToList();
        return prefixes.Count == 0 ? "" : $" Did you mean prefix {LayerCheckpoint.ListNames(prefixes)}?";
    }

    private CheckpointMismatchException Fail(string tensorName, CheckpointMismatch mismatch, long[]? expected, IReadOnlyList<long>? actual, string problem)
        => new(_file.FilePath, _layerName, tensorName, mismatch, expected, actual,
            $"Layer '{_layerName}' cannot load '{_file.FilePath}': {problem}");
}
