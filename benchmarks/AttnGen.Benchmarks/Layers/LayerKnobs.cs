namespace AttnGen.Benchmarks.Layers;

/// <summary>
/// The one place that sets a generated layer's kernel path and thread count. Built with
/// <c>-p:AttnGenKernelKnobs=true</c> (the default once the generated layers carry <c>Isa</c> and
/// <c>MaxDegreeOfParallelism</c>) it uses them; without, every layer runs its one scalar path on the
/// calling thread and only that is benchmarked.
/// </summary>
public static class LayerKnobs
{
#if ATTNGEN_KERNEL_KNOBS
    /// <summary>Whether layers expose Isa and MaxDegreeOfParallelism.</summary>
    public const bool Available = true;

    /// <summary>The path a new layer runs by default: the widest this process supports.</summary>
    public static KernelIsa DefaultIsa => KernelIsaSupport.Best;

    /// <summary>Whether a layer can be switched to <paramref name="isa"/> here.</summary>
    public static bool CanSelect(KernelIsa isa) => KernelIsaSupport.IsSupported(isa);

    /// <summary>Sets the layer's path and thread count.</summary>
    public static void Apply(IGeneratedLayer layer, KernelIsa isa, int threads)
    {
        layer.Isa = isa;
        layer.MaxDegreeOfParallelism = threads;
    }
#else
    /// <summary>Whether layers expose Isa and MaxDegreeOfParallelism.</summary>
    public const bool Available = false;

    /// <summary>The path a new layer runs: only the scalar one exists.</summary>
    public static KernelIsa DefaultIsa => KernelIsa.Scalar;

    /// <summary>Whether a layer can be switched to <paramref name="isa"/> here.</summary>
    public static bool CanSelect(KernelIsa isa) => isa == KernelIsa.Scalar;

    /// <summary>Checks that the request is the one configuration the layers have.</summary>
    public static void Apply(IGeneratedLayer layer, KernelIsa isa, int threads)
    {
        ArgumentNullException.ThrowIfNull(layer);
        if (isa != KernelIsa.Scalar || threads != 1)
        {
            throw new NotSupportedException($"This build's layers run scalar on one thread; {isa} on {threads} thread(s) needs -p:AttnGenKernelKnobs=true.");
        }
    }
#endif

    /// <summary>A new layer of type <typeparamref name="T"/> set to <paramref name="isa"/> and <paramref name="threads"/>.</summary>
    public static T Create<T>(KernelIsa isa, int threads)
        where T : IGeneratedLayer, new()
    {
        var layer = new T();
        Apply(layer, isa, threads);
        return layer;
    }
}
