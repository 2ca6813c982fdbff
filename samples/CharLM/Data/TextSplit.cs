namespace CharLM.Data;

/// <summary>
/// The fixed train / held-out split: every tenth speech (indexes 9, 19, ... in year order) is held out, so
/// both parts span the 230 years. Speeches are joined with a line break between them.
/// </summary>
internal sealed record TextSplit(string Train, string HeldOut, int TrainSpeeches, int HeldOutSpeeches)
{
    public const int HeldOutEvery = 10;

    public static TextSplit Of(IReadOnlyList<Speech> speeches)
    {
        var train = new List<string>();
        var heldOut = new List<string>();
        for (int i = 0; i < speeches.Count; i++)
        {
            (i % HeldOutEvery == HeldOutEvery - 1 ? heldOut : train).Add(speeches[i].Text);
        }
        return new TextSplit(string.Join('\n', train), string.Join('\n', heldOut), train.Count, heldOut.Count);
    }
}
