using System.Diagnostics;
using AttnGen.Samples;
using AttnGen.Training;
using Spectre.Console;
using TextClassification;
using TextClassification.Data;
using TextClassification.Model;
using TextClassification.Training;

// Spam or ham: SpamAssassin public corpus, embedding -> generated attention -> mean pooling -> linear.
const int VocabularySize = 8000;
const int BatchSize = 32;
const float LearningRate = 2e-3f;
const float WeightDecay = 0.01f;
const float ClipNorm = 1f;
const double TrainFraction = 0.8;

// --help, and errors with the usage, are System.CommandLine's to write; anything else is a training run.
System.CommandLine.ParseResult parsed = Options.Command.Parse(args);
if (parsed.Action is not null)
{
    return parsed.Invoke();
}
Options options = Options.From(parsed);

var clock = Stopwatch.StartNew();
AnsiConsole.MarkupLine($"[bold]AttnGen text classification[/]: spam vs ham, seed {options.Seed}, {options.Epochs} epoch(s){(options.Quick ? ", quick subset" : "")}");

List<Email> emails;
try
{
    string tarball = CorpusDownload.Tarball.EnsureTarball(options.DataPath, line => AnsiConsole.MarkupLineInterpolated($"[grey]{line}[/]"));
    emails = SpamCorpus.Read(tarball);
}
catch (CorpusUnavailableException e)
{
    AnsiConsole.MarkupLineInterpolated($"[red]The SpamAssassin corpus is not available:[/] {e.Message}");
    return 1;
}
AnsiConsole.MarkupLine($"corpus: {emails.Count:N0} emails; " +
    string.Join(", ", SpamCorpus.Groups.Select(g => $"{g} {emails.Count(e => e.Group == g):N0}")));

// Tokenise, split (stratified by label), build the vocabulary on the training split only.
List<IReadOnlyList<string>> words = emails.AsParallel().AsOrdered().Select(e => (IReadOnlyList<string>)EmailTokenizer.Tokenize(e.Text, SpamModel.SeqLen)).ToList();
bool[] isSpam = emails.Select(e => e.IsSpam).ToArray();
(int[] trainIndex, int[] testIndex) = EncodedSet.StratifiedSplit(isSpam, TrainFraction, options.Seed);
if (options.Quick)
{
    // Every 8th training and 4th held-out email: both sorted by group, so the classes keep their shares.
    trainIndex = trainIndex.Where((_, i) => i % 8 == 0).ToArray();
    testIndex = testIndex.Where((_, i) => i % 4 == 0).ToArray();
}
Vocabulary vocabulary = Vocabulary.Build(trainIndex.Select(i => words[i]), VocabularySize);
EncodedSet Encode(int[] index) => EncodedSet.Encode(index.Select(i => words[i]).ToList(), index.Select(i => isSpam[i]).ToList(), vocabulary, SpamModel.SeqLen);
EncodedSet train = Encode(trainIndex), test = Encode(testIndex);
double coverage = train.ValidLengths.Average() / SpamModel.SeqLen;
AnsiConsole.MarkupLine($"split: {train.Count:N0} training ({train.SpamCount:N0} spam), {test.Count:N0} held out ({test.SpamCount:N0} spam); " +
    $"vocabulary {vocabulary.Count:N0} words; sequences of {SpamModel.SeqLen} tokens, {coverage:P0} filled on average");

using SequenceClassifier model = SpamModel.Create(vocabulary.Count, BatchSize, options.Seed);
using var optimizer = new AdamW(model.Parameters, LearningRate, weightDecay: WeightDecay);
Report.PrintParameters(model.Parameters);
AnsiConsole.MarkupLine($"training: AdamW lr {LearningRate} weight decay {WeightDecay}, batch {BatchSize}, gradient norm clipped at {ClipNorm}");

var run = new TrainingRun(model, optimizer, BatchSize, ClipNorm);
run.Run(train, test, options.Epochs, options.Seed + 2);
Report.PrintEpochs(run.Epochs);

Evaluation final = run.Evaluate(test);
Report.PrintConfusion(final, test.Count);
AnsiConsole.MarkupLine($"[bold]held-out accuracy {final.Accuracy:P2}[/] ({test.Count:N0} emails)");

Directory.CreateDirectory(options.OutputDirectory);
string plotPath = Path.Combine(options.OutputDirectory, "training.png");
Report.SavePlot(plotPath, run);
string vocabularyPath = Path.Combine(options.OutputDirectory, "vocabulary.txt");
vocabulary.Save(vocabularyPath);
AnsiConsole.MarkupLineInterpolated($"plot: {plotPath}");
AnsiConsole.MarkupLineInterpolated($"vocabulary: {vocabularyPath}");
AnsiConsole.MarkupLineInterpolated($"{Report.SaveCheckpoint(model.Parameters, Path.Combine(options.OutputDirectory, "model.safetensors"))}");
AnsiConsole.MarkupLine($"wall time {clock.Elapsed.TotalSeconds:F1} s");
return 0;
