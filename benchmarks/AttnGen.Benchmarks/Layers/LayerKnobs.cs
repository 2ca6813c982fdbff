namespace AttnGen.Benchmarks.Layers;

/// <summary>The one place that sets a generated layer's kernel path and thread count.</summary>
public static class LayerKnobs
{
    /// <summary>The path a new layer runs by default: the widest this process supports.</summary>
    public static KernelIsa DefaultIsa => KernelIsaSupport.Best;

    /// <summary>Whether a layer can be switched to <paramref name="isa"/> here.</summary>
    public static bool CanSelect(KernelIsa isa) => KernelIsaSupport.IsSupported(isa);

    /// <summary>Sets the layer's path and thread count.</summary>
    public static void Apply(IAttentionLayer layer, KernelIsa isa, int threads)
    {
        layer.Isa = isa;
        layer.MaxDegreeOfParallelism = threads;
    }

    /// <summary>A new layer of type <typeparamref name="T"/> set to <paramref name="isa"/> and <paramref name="threads"/>.</summary>
    public static T Create<T>(KernelIsa isa, int threads)
        where T : IAttentionLayer, new()
    {
        var layer = new T();
        Apply(layer, isa, threads);
        return layer;
    }
}
