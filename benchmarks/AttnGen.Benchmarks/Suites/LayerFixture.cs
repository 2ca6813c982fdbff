using AttnGen.Benchmarks.Contenders;
using AttnGen.Benchmarks.Generic;
using AttnGen.Benchmarks.Infrastructure;
using AttnGen.Benchmarks.Layers;

namespace AttnGen.Benchmarks.Suites;

/// <summary>
/// Inputs, weights and the naive reference output of one full-layer benchmark: the weights come from a
/// seeded generated layer (PyTorch initialisation, then small random biases so the bias paths count).
/// </summary>
internal sealed class LayerFixture<TLayer> : IDisposable
    where TLayer : class, IFullLayer, new()
{
    private readonly TLayer _weights = new();

    public LayerFixture(AttentionShape shape, int modelDim, int batch)
    {
        Shape = shape;
        ModelDim = modelDim;
        Batch = batch;
        _weights.ResetParameters(TestData.Seed);
        TestData.Uniform(_weights.InProjBias.Length, 11, 0.1f).CopyTo(_weights.InProjBias);
        TestData.Uniform(_weights.OutProjBias.Length, 12, 0.1f).CopyTo(_weights.OutProjBias);
        _weights.ParametersChanged();
        int length = batch * shape.SeqLen * modelDim;
        Input = TestData.Uniform(length, 4);
        Output = new float[length];
        Expected = new float[length];
        ComposedLayer.Naive(shape, modelDim, InProjWeight, InProjBias, OutProjWeight, OutProjBias).Forward(Input, Expected, batch);
    }

    public AttentionShape Shape { get; }

    public int ModelDim { get; }

    public int Batch { get; }

    public float[] Input { get; }

    public float[] Output { get; }

    public float[] Expected { get; }

    public ReadOnlySpan<float> InProjWeight => _weights.InProjWeight;

    public ReadOnlySpan<float> InProjBias => _weights.InProjBias;

    public ReadOnlySpan<float> OutProjWeight => _weights.OutProjWeight;

    public ReadOnlySpan<float> OutProjBias => _weights.OutProjBias;

    /// <summary>A generated layer with these weights, set to <paramref name="isa"/> and <paramref name="threads"/>.</summary>
    public TLayer NewGenerated(KernelIsa isa, int threads)
    {
        TLayer layer = LayerKnobs.Create<TLayer>(isa, threads);
        InProjWeight.CopyTo(layer.InProjWeight);
        InProjBias.CopyTo(layer.InProjBias);
        OutProjWeight.CopyTo(layer.OutProjWeight);
        OutProjBias.CopyTo(layer.OutProjBias);
        layer.ParametersChanged();
        return layer;
    }

    /// <summary>The runtime-shape layer with these weights.</summary>
    public GenericLayer NewGeneric(int threads)
    {
        var layer = new GenericLayer(Shape.Heads, Shape.SeqLen, Shape.HeadDim, ModelDim, Shape.Causal) { MaxDegreeOfParallelism = threads };
        layer.LoadWeights(InProjWeight, InProjBias, OutProjWeight, OutProjBias);
        return layer;
    }

    /// <summary>Runs <paramref name="contender"/> once and throws unless it matches the naive layer.</summary>
    public void Verify(string name, Action contender) => Accuracy.Verify(name, contender, Output, Expected);

    public void Dispose() => _weights.Dispose();
}
