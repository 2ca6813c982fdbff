namespace AttnGen;

/// <summary>
/// Loads and saves a layer's parameter block as a safetensors file with PyTorch
/// <c>nn.MultiheadAttention</c> state-dict names. The runtime layer core calls it from <c>Load</c> and
/// <c>Save</c> methods; a layer's own <c>Load</c> and <c>Save</c> are what users call.
/// </summary>
[System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
public static class LayerCheckpoint
{
    /// <summary>PyTorch's name for the stacked q, k and v projection weights.</summary>
    public const string InProjWeight = "in_proj_weight";

    /// <summary>
    /// PyTorch's names for the separate q, k and v projection weights (used when the key and value widths
    /// differ from the embedding width), in the order their rows stack into <see cref="InProjWeight"/>.
    /// </summary>
    public static IReadOnlyList<string> SeparateProjectionWeights { get; } = ["q_proj_weight", "k_proj_weight", "v_proj_weight"];

    // How many names an error message lists before it says "and N more".
    private const int ListedNames = 12;

    /// <summary>
    /// Loads <paramref name="parameters"/> into <paramref name="parameterBlock"/> from the safetensors file at
    /// <paramref name="path"/>, reading the tensor <c>prefix + name</c> for each parameter. The whole file is
    /// validated, and every tensor decoded, before the block changes: on any error it is left as it was.
    /// </summary>
    /// <param name="path">The safetensors file; it may hold a whole model.</param>
    /// <param name="prefix">Prepended to every parameter name, e.g. <c>encoder.layers.0.self_attn.</c>; empty for a bare layer. Tensors that do not start with it are ignored.</param>
    /// <param name="parameterBlock">The layer's parameters, laid out as <paramref name="parameters"/> says.</param>
    /// <param name="parameters">The layer's parameters: PyTorch names, shapes and offsets into the block.</param>
    /// <param name="queryRows">Rows of <c>in_proj_weight</c> that project queries (Heads * HeadDim).</param>
    /// <param name="kvRows">Rows of <c>in_proj_weight</c> that project keys, and again values (KvHeads * HeadDim).</param>
    /// <param name="layerName">The layer's name, for error messages.</param>
    /// <remarks>
    /// <c>in_proj_weight</c> may instead be stored as PyTorch's separate <c>q_proj_weight</c>
    /// <c>[queryRows, modelDim]</c>, <c>k_proj_weight</c> and <c>v_proj_weight</c> <c>[kvRows, modelDim]</c>,
    /// whose rows are stacked q, k, v. F16 and BF16 tensors are widened to float.
    /// </remarks>
    /// <exception cref="CheckpointMismatchException">A parameter's tensor is missing, has another shape or a dtype other than F32, F16 or BF16, or the file has a tensor under the prefix that the layer does not have.</exception>
    /// <exception cref="SafeTensorsFormatException">The file is not a valid safetensors file, or another process truncated it while it was read.</exception>
    /// <exception cref="IOException">
    /// The file cannot be read: <see cref="FileNotFoundException"/>, <see cref="DirectoryNotFoundException"/>,
    /// <see cref="PathTooLongException"/>, or an <see cref="IOException"/> naming the path when it is a directory or
    /// may not be read.
    /// </exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty, or the block or the parameter list is inconsistent (a bug in the caller).</exception>
    public static void Load(string path, string prefix, Span<float> parameterBlock, IReadOnlyList<LayerParameter> parameters, int queryRows, int kvRows, string layerName)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(layerName);
        CheckLayout(parameterBlock.Length, parameters, queryRows, kvRows);

        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        var match = new CheckpointMatch(file, prefix, layerName);
        (List<TensorSlot> slots, int stagingLength) = match.Plan(parameters, queryRows, kvRows);

        // Decode into a staging array first: the block changes only once everything has been read.
        var staging = new float[stagingLength];
        foreach (TensorSlot slot in slots)
        {
            file.ReadFloats(slot.Tensor, staging.AsSpan(slot.StagingOffset, (int)slot.Tensor.ElementCount));
        }
        int offset = 0;
        foreach (LayerParameter p in parameters)
        {
            staging.AsSpan(offset, p.Length).CopyTo(parameterBlock.Slice(p.Offset, p.Length));
            offset += p.Length;
        }
    }

    /// <summary>
    /// Saves <paramref name="parameters"/> from <paramref name="parameterBlock"/> to <paramref name="path"/> as
    /// tensors named <c>prefix + name</c>, in parameter order. The file is replaced atomically: the content is
    /// written to <c>&lt;path&gt;.&lt;random&gt;.tmp</c> in the same folder (the name shortened if it would pass 255 bytes), flushed to disk and renamed over
    /// <paramref name="path"/>, so a reader (or a crash) sees the old file or the new one, never a mix.
    /// </summary>
    /// <param name="path">The file to write.</param>
    /// <param name="prefix">Prepended to every parameter name; empty for a bare layer.</param>
    /// <param name="parameterBlock">The layer's parameters, laid out as <paramref name="parameters"/> says.</param>
    /// <param name="parameters">The layer's parameters: PyTorch names, shapes and offsets into the block.</param>
    /// <param name="metadata">Optional <c>__metadata__</c> strings.</param>
    /// <param name="dtype">How to store the values: F32 (default, exact), F16 or BF16 (rounded to nearest even).</param>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty or ends with a directory separator, the block or the parameter list is inconsistent, or <paramref name="dtype"/> is not F32, F16 or BF16.</exception>
    /// <exception cref="IOException">
    /// The file cannot be written (its folder is missing, it is a directory, the disk is full, ...); the previous
    /// file, if any, is unchanged and no temporary file is left behind.
    /// </exception>
    public static void Save(string path, string prefix, ReadOnlySpan<float> parameterBlock, IReadOnlyList<LayerParameter> parameters, IReadOnlyDictionary<string, string>? metadata = null, SafeTensorsDType dtype = SafeTensorsDType.F32)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(parameters);
        CheckLayout(parameterBlock.Length, parameters, queryRows: null, kvRows: null);

        var declarations = new SafeTensorDeclaration[parameters.Count];
        for (int i = 0; i < declarations.Length; i++)
        {
            declarations[i] = new SafeTensorDeclaration(prefix + parameters[i].Name, ToLongShape(parameters[i].Shape), dtype);
        }

        using AtomicFileWriter target = AtomicFileWriter.Create(path);
        SafeTensorsWriter writer = SafeTensorsWriter.Begin(target.Stream, declarations, metadata);
        foreach (LayerParameter p in parameters)
        {
            writer.WriteNext(parameterBlock.Slice(p.Offset, p.Length));
        }
        writer.Complete();
        target.Commit();
    }

    internal static long[] ToLongShape(int[] shape) => Array.ConvertAll(shape, d => (long)d);

    /// <summary>Lists at most <see cref="ListedNames"/> names, quoted.</summary>
    internal static string ListNames(IEnumerable<string> names)
    {
        var all = names.ToList();
        if (all.Count == 0)
        {
            return "none";
        }
        string listed = string.Join(", ", all.Take(ListedNames).Select(n => $"'{n}'"));
        return all.Count > ListedNames ? $"{listed} and {all.Count - ListedNames} more" : listed;
    }

    /// <summary>Checks that every parameter lies inside the block and that in_proj_weight has q + 2 kv rows.</summary>
    private static void CheckLayout(int blockLength, IReadOnlyList<LayerParameter> parameters, int? queryRows, int? kvRows)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (LayerParameter p in parameters)
        {
            ArgumentNullException.ThrowIfNull(p, nameof(parameters));
            if (!names.Add(p.Name))
            {
                throw new ArgumentException($"Two parameters are named '{p.Name}'.", nameof(parameters));
            }
            long length = 1;
            foreach (int d in p.Shape)
            {
                if (d < 0)
                {
                    throw new ArgumentException($"Parameter '{p.Name}' has a negative dimension in {p.ShapeText}.", nameof(parameters));
                }
                length = Math.Min(length * d, int.MaxValue + 1L);
            }
            if (p.Offset < 0 || length > blockLength || p.Offset > blockLength - length)
            {
                throw new ArgumentException(
                    $"Parameter '{p.Name}' {p.ShapeText} at offset {p.Offset} does not fit the parameter block of length {blockLength}.", nameof(parameters));
            }
            if (p.Name == InProjWeight && queryRows is int q && kvRows is int kv
                && (q < 0 || kv < 0 || p.Shape.Length != 2 || p.Shape[0] != (long)q + 2L * kv))
            {
                throw new ArgumentException(
                    $"Parameter '{InProjWeight}' {p.ShapeText} does not have queryRows + 2 * kvRows = {q} + 2 * {kv} rows.", nameof(parameters));
            }
        }
    }
}
