using TextClassification.Model;

namespace AttnGen.Training.Tests;

/// <summary>The attention layer of the synthetic task and the allocation test.</summary>
[AttentionLayer(heads: 2, headDim: 8, seqLen: 10, ModelDim = 16)]
public partial class SyntheticAttention : ITrainableAttention;

internal static class TestModels
{
    /// <summary>A <see cref="SequenceClassifier"/> around <see cref="SyntheticAttention"/>, or without attention.</summary>
    public static SequenceClassifier Create(bool withAttention, int vocabulary, int maxBatch, ulong seed)
    {
        ITrainableAttention? attention = null;
        if (withAttention)
        {
            var layer = new SyntheticAttention();
            layer.ResetParameters(seed);
            attention = layer;
        }
        var model = new SequenceClassifier(attention, SyntheticAttention.ParameterList, vocabulary,
            SyntheticAttention.SeqLen, SyntheticAttention.ModelDim, classes: 2, maxBatch);
        model.ResetParameters(seed + 10);
        return model;
    }
}
