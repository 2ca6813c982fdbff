namespace AttnGen;

/// <summary>Seeded parameter initialisation.</summary>
public static class ParameterInit
{
    /// <summary>
    /// Initialises every parameter of <paramref name="parameters"/> inside <paramref name="block"/> by its
    /// <see cref="LayerParameter.Init"/> rule, from one seeded sequence (parameters in order).
    /// </summary>
    public static void Initialize(Span<float> block, IReadOnlyList<LayerParameter> parameters, ulong seed)
    {
        var random = new SeededRandom(seed);
        foreach (LayerParameter p in parameters)
        {
            Fill(block.Slice(p.Offset, p.Length), p.Init, p.FanIn, p.FanOut, ref random);
        }
    }

    /// <summary>Fills <paramref name="values"/> by one initialisation rule.</summary>
    public static void Fill(Span<float> values, InitKind kind, int fanIn, int fanOut, ref SeededRandom random)
    {
        switch (kind)
        {
            case InitKind.Zeros:
                values.Clear();
                break;
            case InitKind.XavierUniform:
            {
                float a = (float)Math.Sqrt(6.0 / Math.Max(1, fanIn + fanOut));
                random.FillUniform(values, -a, a);
                break;
            }
            case InitKind.LinearDefault:
            {
                float a = (float)(1.0 / Math.Sqrt(Math.Max(1, fanIn)));
                random.FillUniform(values, -a, a);
                break;
            }
            case InitKind.KaimingUniform:
            {
                float a = (float)Math.Sqrt(6.0 / Math.Max(1, fanIn));
                random.FillUniform(values, -a, a);
                break;
            }
            case InitKind.KaimingNormal:
                random.FillNormal(values, 0f, (float)Math.Sqrt(2.0 / Math.Max(1, fanIn)));
                break;
            case InitKind.XavierNormal:
                random.FillNormal(values, 0f, (float)Math.Sqrt(2.0 / Math.Max(1, fanIn + fanOut)));
                break;
            case InitKind.StandardNormal:
                random.FillNormal(values, 0f, 1f);
                break;
            case InitKind.Ones:
                values.Fill(1f);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown initialisation rule.");
        }
    }
}
