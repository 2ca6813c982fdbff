using System.Text;
using AttnGen.Runtime.Tests.Support;

namespace AttnGen.Runtime.Tests.Checkpoints;

/// <summary>
/// Paths that cannot be read or written, a full disk and the longest file names: every failure is one of the
/// documented <see cref="IOException"/>s naming the path, a failed load leaves the block as it was, and a failed
/// save leaves the folder exactly as it was.
/// </summary>
public sealed class FileFailureTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly LayerLayout _layout = LayerLayout.Create(modelDim: 10, heads: 4, kvHeads: 2, headDim: 3);

    public void Dispose() => _dir.Dispose();

    /// <summary>Runs a load that must fail with exactly <typeparamref name="T"/> and checks that the block did not change.</summary>
    private T LoadFails<T>(string path)
        where T : Exception
    {
        float[] block = _layout.NewBlock(seed: 3);
        float[] before = (float[])block.Clone();
        T e = Assert.Throws<T>(() => _layout.Load(path, block));
        Assert.Equal(before, block);
        return e;
    }

    /// <summary>Every file under <paramref name="folder"/> with its bytes.</summary>
    private static SortedDictionary<string, byte[]> Snapshot(string folder)
        => new(Directory.GetFileSystemEntries(folder, "*", SearchOption.AllDirectories)
            .ToDictionary(p => Path.GetRelativePath(folder, p), p => File.Exists(p) ? File.ReadAllBytes(p) : []), StringComparer.Ordinal);

    [Fact]
    public void LoadingADirectory_IsAnIOExceptionNamingIt()
    {
        string path = _dir.File("weights.safetensors");
        Directory.CreateDirectory(path);

        IOException e = LoadFails<IOException>(path);
        Assert.Equal($"Cannot read '{path}': it is a directory, not a file.", e.Message);
        Assert.IsType<UnauthorizedAccessException>(e.InnerException);
    }

    [Fact]
    public void OpeningADirectory_IsAnIOExceptionNamingIt()
    {
        IOException e = Assert.Throws<IOException>(() => SafeTensorsFile.Open(_dir.Path));
        Assert.Contains($"'{_dir.Path}'", e.Message, StringComparison.Ordinal);
        Assert.Contains("directory", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnAccessDenial_BecomesAnIOExceptionNamingThePath()
    {
        // As root, permissions never stop a read, so the mapping is checked on its own.
        string path = _dir.File("secret.safetensors");
        var denied = new UnauthorizedAccessException("Access to the path is denied.");
        IOException e = FileErrors.Access(path, "read", denied);
        Assert.Equal($"Cannot read '{path}': access is denied (Access to the path is denied.)", e.Message);
        Assert.Same(denied, e.InnerException);
    }

    [Fact]
    public void LoadingThroughAFile_IsDirectoryNotFound()
    {
        string file = _dir.Write("plain.txt", [1, 2, 3]);
        DirectoryNotFoundException e = LoadFails<DirectoryNotFoundException>(Path.Combine(file, "weights.safetensors"));
        Assert.Contains(file, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadingADanglingLink_IsFileNotFound()
    {
        string link = _dir.File("link.safetensors");
        File.CreateSymbolicLink(link, _dir.File("gone.safetensors"));
        FileNotFoundException e = LoadFails<FileNotFoundException>(link);
        Assert.Contains(link, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadingANameOver255Bytes_IsPathTooLong()
        => LoadFails<PathTooLongException>(_dir.File(new string('n', 256)));

    [Fact]
    public void SavingOverADirectory_IsAnIOException_AndLeavesTheFolderAsItWas()
    {
        string path = _dir.File("weights.safetensors");
        Directory.CreateDirectory(path);
        var before = Snapshot(_dir.Path);

        IOException e = Assert.Throws<IOException>(() => _layout.Save(path, _layout.NewBlock(1)));
        Assert.Equal($"Cannot write '{path}': it is a directory, not a file.", e.Message);
        Assert.Equal(before, Snapshot(_dir.Path));
    }

    [Fact]
    public void SavingToAPathEndingInASeparator_IsAnArgumentException()
    {
        string path = _dir.Path + Path.DirectorySeparatorChar;
        var before = Snapshot(_dir.Path);

        ArgumentException e = Assert.Throws<ArgumentException>(() => _layout.Save(path, _layout.NewBlock(1)));
        Assert.Equal("path", e.ParamName);
        Assert.Contains("ends with a directory separator", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(_dir.Path));
    }

    [Fact]
    public void SavingIntoAMissingFolder_IsDirectoryNotFound()
    {
        Assert.Throws<DirectoryNotFoundException>(() => _layout.Save(_dir.File(Path.Combine("missing", "w.safetensors")), _layout.NewBlock(1)));
        Assert.Empty(Directory.GetFileSystemEntries(_dir.Path));
    }

    public static TheoryData<string> LongNames() => new(
        new string('n', 255 - ".safetensors".Length) + ".safetensors",      // 255 bytes of ASCII
        new string('é', 121) + "x.safetensors",                             // 242 + 13 = 255 bytes, two-byte characters
        string.Concat(Enumerable.Repeat("😀", 60)) + "abc.safetensors",       // 240 + 15 = 255 bytes, surrogate pairs
        new string('n', 240));                                              // just past the 239 bytes the plain temporary name allows

    [Theory]
    [MemberData(nameof(LongNames))]
    public void NamesUpTo255Bytes_SaveAndLoad_LeavingNoTemporaryFile(string name)
    {
        Assert.InRange(Encoding.UTF8.GetByteCount(name), 240, 255);
        string path = _dir.File(name);
        float[] block = _layout.NewBlock(5);
        _layout.Save(path, block);

        Assert.Equal([name], Directory.GetFileSystemEntries(_dir.Path).Select(Path.GetFileName));
        float[] loaded = new float[block.Length];
        _layout.Load(path, loaded);
        Assert.Equal(block, loaded);
    }

    public static TheoryData<string> AnyNames() => new(
        "short.safetensors",
        new string('n', 239),                               // the longest name kept whole
        new string('n', 250),
        new string('é', 130),                               // two-byte characters
        string.Concat(Enumerable.Repeat("😀", 60)) + "x");   // four-byte characters (surrogate pairs in UTF-16)

    [Theory]
    [MemberData(nameof(AnyNames))]
    public void TemporaryNames_StayWithin255Bytes_AndKeepWholeCharacters(string name)
    {
        string temp = AtomicFileWriter.TempName(name);
        Assert.InRange(Encoding.UTF8.GetByteCount(temp), 1, AtomicFileWriter.MaxNameBytes);
        Assert.Matches(@"\.[a-z0-9]{11}\.tmp$", temp);
        string kept = temp[..^16];
        Assert.StartsWith(kept, name, StringComparison.Ordinal);
        Assert.Equal(Encoding.UTF8.GetByteCount(name) + 16 <= AtomicFileWriter.MaxNameBytes ? name : kept, kept);
        Assert.True(kept.Length == 0 || !char.IsHighSurrogate(kept[^1]), "The name was cut inside a surrogate pair.");
        Assert.Equal(kept, Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(kept)));
    }

    [Fact]
    public void AFullDisk_FailsTheSave_AndLeavesTheFolderExactlyAsItWas()
    {
        using TmpfsMount? disk = TmpfsMount.TryMount(256 * 1024, out string reason);
        if (disk is null)
        {
            Assert.Skip($"No small file system to fill: {reason}");
        }
        // A small checkpoint that fits, then a large one (about 1.2 MB) that does not.
        string path = Path.Combine(disk.Path, "weights.safetensors");
        _layout.Save(path, _layout.NewBlock(1));
        File.WriteAllText(Path.Combine(disk.Path, "notes.txt"), "kept");
        var before = Snapshot(disk.Path);

        LayerLayout large = LayerLayout.Create(modelDim: 256, heads: 4, kvHeads: 4, headDim: 64);
        IOException e = Assert.Throws<IOException>(() => large.Save(path, large.NewBlock(2)));
        Assert.Contains("No space left on device", e.Message, StringComparison.Ordinal);

        Assert.Equal(before, Snapshot(disk.Path));
        float[] loaded = new float[_layout.BlockLength];
        _layout.Load(path, loaded);
        Assert.Equal(_layout.NewBlock(1), loaded);
    }
}
