namespace AttnGen.Benchmarks.Infrastructure;

/// <summary>
/// Marks a benchmark of the generated layer forced onto one instruction-set path. It runs only where the
/// layer can select that path and the path is not already the default (measured by the baseline).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class IsaVariantAttribute(KernelIsa isa) : Attribute
{
    /// <summary>The path.</summary>
    public KernelIsa Isa => isa;
}

/// <summary>A benchmark that needs this process to support <see cref="Isa"/> (for example the AVX-512 peak loop).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RequiresIsaAttribute(KernelIsa isa) : Attribute
{
    /// <summary>The instruction set needed.</summary>
    public KernelIsa Isa => isa;
}

/// <summary>Threads the benchmark uses (default 1): the percent-of-peak column divides by peak x threads.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ThreadsAttribute(int count) : Attribute
{
    /// <summary>As many threads as the machine has processors (what a generated layer uses by default).</summary>
    public const int ProcessorCount = 0;

    /// <summary>Number of threads.</summary>
    public int Count => count == ProcessorCount ? Environment.ProcessorCount : count;
}
