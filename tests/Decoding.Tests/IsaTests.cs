namespace AttnGen.Decoding.Tests;

public sealed class IsaTests
{
    /// <summary>
    /// The test runner sets ATTNGEN_EXPECT_ISA when it switches instruction sets off for a child run; if the
    /// switch silently did nothing, the widest path would differ and this fails.
    /// </summary>
    [Fact]
    public void WidestPath_IsTheOneTheRunnerExpects()
    {
        string? expected = Environment.GetEnvironmentVariable("ATTNGEN_EXPECT_ISA");
        if (string.IsNullOrEmpty(expected))
        {
            Assert.Contains(KernelIsaSupport.Best, KernelIsaSupport.Supported);
            return;
        }
        Assert.Equal(Enum.Parse<KernelIsa>(expected), KernelIsaSupport.Best);
    }
}
