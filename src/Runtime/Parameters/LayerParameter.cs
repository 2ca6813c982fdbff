namespace AttnGen;

/// <summary>How a parameter is initialised by <see cref="ParameterInit"/>.</summary>
public enum InitKind
{
    /// <summary>All zeros (biases).</summary>
    Zeros,

    /// <summary>Xavier/Glorot uniform: <c>U(-a, a)</c>, <c>a = sqrt(6 / (fanIn + fanOut))</c>.</summary>
    XavierUniform,

    /// <summary>PyTorch's default for <c>nn.Linear</c> (Kaiming uniform with a = sqrt(5)): <c>U(-1/sqrt(fanIn), 1/sqrt(fanIn))</c>.</summary>
    LinearDefault,

    /// <summary>Kaiming/He uniform for ReLU layers: <c>U(-a, a)</c>, <c>a = sqrt(6 / fanIn)</c>.</summary>
    KaimingUniform,

    /// <summary>Kaiming/He normal for ReLU layers: <c>N(0, 2 / fanIn)</c>.</summary>
    KaimingNormal,

    /// <summary>Xavier/Glorot normal: <c>N(0, 2 / (fanIn + fanOut))</c>.</summary>
    XavierNormal,

    /// <summary>Standard normal <c>N(0, 1)</c>: PyTorch's default for <c>nn.Embedding</c>.</summary>
    StandardNormal,

    /// <summary>All ones (layer-norm scales).</summary>
    Ones,
}

/// <summary>
/// One named parameter of a layer: its PyTorch name, its shape, and where it sits in the layer's
/// parameter block.
/// </summary>
/// <param name="Name">PyTorch state-dict name, e.g. <c>in_proj_weight</c> or <c>out_proj.bias</c>.</param>
/// <param name="Shape">Row-major shape.</param>
/// <param name="Offset">Offset in floats within the layer's parameter block.</param>
/// <param name="Init">Default initialisation.</param>
/// <param name="FanIn">Fan-in used by the initialiser.</param>
/// <param name="FanOut">Fan-out used by the initialiser.</param>
public sealed record LayerParameter(string Name, int[] Shape, int Offset, InitKind Init, int FanIn, int FanOut)
{
    /// <summary>Number of elements: the product of <see cref="Shape"/>.</summary>
    public int Length
    {
        get
        {
            int n = 1;
            foreach (int d in Shape)
            {
                n *= d;
            }
            return n;
        }
    }

    /// <summary>The shape as PyTorch prints it, e.g. <c>[1536, 512]</c>.</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
