namespace AttnGen.Training;

/// <summary>
/// A model a <see cref="Trainer{TBatch}"/> can step: it runs the forward pass on a batch, computes the loss and
/// accumulates the gradient of every parameter in <see cref="Parameters"/>.
/// </summary>
/// <typeparam name="TBatch">What one step consumes; may be a ref struct of spans, so a step copies nothing.</typeparam>
public interface ITrainableModel<TBatch>
    where TBatch : allows ref struct
{
    /// <summary>Every trainable parameter, with its gradient buffer.</summary>
    ParameterSet Parameters { get; }

    /// <summary>Forward, loss and backward on <paramref name="batch"/>; adds to the gradients and returns the mean loss.</summary>
    float ForwardBackward(scoped in TBatch batch);
}
