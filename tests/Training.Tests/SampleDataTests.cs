using TextClassification.Data;

namespace AttnGen.Training.Tests;

public class SampleDataTests
{
    private const string Mail =
        "From someone@example.com  Thu Aug 22 13:17:22 2002\n" +
        "Received: from mail by host\n" +
        "Subject: Cheap MEDS,\n" +
        "\tbuy now!\n" +
        "To: you@example.com\n" +
        "\n" +
        "<HTML>Click=3D here: x1234567890123456789012345678 ok</HTML>\n";

    [Fact]
    public void Tokenizer_keeps_the_subject_then_the_body_and_drops_other_headers()
    {
        List<string> words = EmailTokenizer.Tokenize(Mail, 100);
        Assert.Equal(["cheap", "meds", "buy", "now", "html", "click", "3d", "here", "ok", "html"], words);
        Assert.Equal(["cheap", "meds", "buy"], EmailTokenizer.Tokenize(Mail, 3));
    }

    [Fact]
    public void Vocabulary_keeps_the_most_frequent_words_after_pad_and_unk()
    {
        IReadOnlyList<string>[] documents = [["b", "a", "b"], ["c", "b", "a"], ["d"]];
        Vocabulary vocabulary = Vocabulary.Build(documents, 4);
        Assert.Equal(["<pad>", "<unk>", "b", "a"], vocabulary.Words);
        var ids = new int[5];
        Assert.Equal(3, vocabulary.Encode(["a", "zzz", "b"], ids));
        Assert.Equal([3, Vocabulary.Unknown, 2, Vocabulary.Padding, Vocabulary.Padding], ids);
    }

    [Fact]
    public void Split_is_stratified_disjoint_and_seeded()
    {
        bool[] isSpam = Enumerable.Range(0, 100).Select(i => i % 4 == 0).ToArray();
        (int[] train, int[] test) = EncodedSet.StratifiedSplit(isSpam, 0.8, 7);
        Assert.Equal(80, train.Length);
        Assert.Equal(20, test.Length);
        Assert.Equal(20, train.Count(i => isSpam[i]));
        Assert.Empty(train.Intersect(test));
        Assert.Equal(train, EncodedSet.StratifiedSplit(isSpam, 0.8, 7).Train);
        Assert.NotEqual(train, EncodedSet.StratifiedSplit(isSpam, 0.8, 8).Train);
    }
}
