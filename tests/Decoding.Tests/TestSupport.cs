namespace AttnGen.Decoding.Tests;

/// <summary>Theory data shared by the decoding tests.</summary>
internal static class TestSupport
{
    /// <summary>Every instruction-set path this process can run.</summary>
    public static TheoryData<KernelIsa> SupportedIsas()
    {
        var data = new TheoryData<KernelIsa>();
        foreach (KernelIsa isa in KernelIsaSupport.Supported)
        {
            data.Add(isa);
        }
        return data;
    }
}
