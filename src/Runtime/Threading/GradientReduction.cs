namespace AttnGen;

/// <summary>
/// How a multi-worker Backward sums the workers' parameter-gradient blocks into the layer's: every element is summed in
/// worker order either way, so the bits are the same; only who does it changes.
/// </summary>
internal static class GradientReduction
{
    /// <summary>
    /// From this many parameters on, the workers sum the blocks together once all are done, each a slice of the
    /// elements, instead of the caller alone after them: at ModelDim 512 (about a million floats) the caller's sum took
    /// about 0.4 ms, a few percent of a two-thread training step on a batch of 8; below it the meeting costs more than it
    /// saves. Tests lower it to run the workers' sum on small layers.
    /// </summary>
    internal static int SharedFromFloats { get; set; } = 1 << 16;
}
