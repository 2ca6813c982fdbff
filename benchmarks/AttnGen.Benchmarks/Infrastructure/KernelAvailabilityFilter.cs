using System.Reflection;
using AttnGen.Benchmarks.Layers;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Running;

namespace AttnGen.Benchmarks.Infrastructure;

/// <summary>Leaves out benchmarks this machine or this build cannot run (see the attributes in BenchmarkAttributes.cs).</summary>
public sealed class KernelAvailabilityFilter : IFilter
{
    public bool Predicate(BenchmarkCase benchmarkCase)
    {
        MethodInfo method = benchmarkCase.Descriptor.WorkloadMethod;
        if (method.GetCustomAttribute<IsaVariantAttribute>() is { } variant
            && (!LayerKnobs.CanSelect(variant.Isa) || variant.Isa == LayerKnobs.DefaultIsa))
        {
            return false;
        }
        if (method.GetCustomAttribute<RequiresIsaAttribute>() is { } requires && !KernelIsaSupport.IsSupported(requires.Isa))
        {
            return false;
        }
        return true;
    }
}
