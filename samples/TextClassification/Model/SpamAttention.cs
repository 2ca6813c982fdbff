using AttnGen;

namespace TextClassification.Model;

/// <summary>Self-attention over an email's first 128 tokens: 4 heads of 16, model width 64.</summary>
[AttentionLayer(heads: 4, headDim: 16, seqLen: 128, ModelDim = 64)]
public partial class SpamAttention : ITrainableAttention;

/// <summary>The spam classifier: <see cref="SequenceClassifier"/> around <see cref="SpamAttention"/>.</summary>
internal static class SpamModel
{
    public const int SeqLen = SpamAttention.SeqLen;
    public const int ModelDim = SpamAttention.ModelDim;

    public static SequenceClassifier Create(int vocabularySize, int maxBatch, ulong seed)
    {
        var layer = new SpamAttention();
        layer.ResetParameters(seed);
        // The generated layer trains itself: ForwardTrain, Backward and GradientBlock are emitted with it.
        var model = new SequenceClassifier(layer, SpamAttention.ParameterList, vocabularySize, SeqLen, ModelDim, classes: 2, maxBatch);
        model.ResetParameters(seed + 1);
        return model;
    }
}
