using System.Text;

namespace AttnGen;

/// <summary>
/// Replaces a file all at once: the content goes to a temporary file in the same folder,
/// <c>&lt;name&gt;.&lt;random&gt;.tmp</c>, which <see cref="Commit"/> flushes to disk and renames over the target. A
/// reader sees the old file or the new one, never a part of either, even if the process dies midway. Disposing
/// without committing (after a failure, a full disk included) deletes the temporary file, so the folder is left
/// as it was; a process killed before that leaves it behind.
/// </summary>
/// <remarks>
/// The temporary name adds 16 bytes to the target's name. File systems limit a name to 255 bytes, so when the
/// target's name is longer than 239 bytes of UTF-8, its start (cut at a character boundary) stands in for it.
/// </remarks>
public sealed class AtomicFileWriter : IDisposable
{
    /// <summary>The longest file name, in bytes of UTF-8, that the temporary name is kept within.</summary>
    public const int MaxNameBytes = 255;

    private readonly string _targetPath;
    private FileStream? _stream;
    private bool _committed;

    private AtomicFileWriter(string targetPath, string tempPath, FileStream stream)
    {
        _targetPath = targetPath;
        TempPath = tempPath;
        _stream = stream;
    }

    /// <summary>The temporary file being written.</summary>
    public string TempPath { get; }

    /// <summary>Where to write the new content.</summary>
    public Stream Stream => _stream ?? throw new ObjectDisposedException(nameof(AtomicFileWriter));

    /// <summary>Starts replacing <paramref name="path"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty or ends with a directory separator.</exception>
    /// <exception cref="IOException">
    /// <paramref name="path"/> is a directory, its folder does not exist (<see cref="DirectoryNotFoundException"/>), a
    /// part of it is too long (<see cref="PathTooLongException"/>), or the folder does not allow creating a file.
    /// </exception>
    public static AtomicFileWriter Create(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string target = Path.GetFullPath(path);
        string name = Path.GetFileName(target);
        if (name.Length == 0)
        {
            throw new ArgumentException($"'{nameof(path)}' is '{path}', which ends with a directory separator; expected the path of a file.", nameof(path));
        }
        if (Directory.Exists(target))
        {
            throw new IOException($"Cannot write '{path}': it is a directory, not a file.");
        }
        string temp = Path.Combine(Path.GetDirectoryName(target)!, TempName(name));
        try
        {
            var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16);
            return new AtomicFileWriter(target, temp, stream);
        }
        catch (UnauthorizedAccessException e)
        {
            throw FileErrors.Access(temp, "write", e);
        }
    }

    /// <summary>
    /// A temporary name for <paramref name="fileName"/>: <c>&lt;fileName&gt;.&lt;11 random characters&gt;.tmp</c>, with
    /// <paramref name="fileName"/> cut (at a character boundary) so that the whole stays within
    /// <see cref="MaxNameBytes"/> bytes of UTF-8.
    /// </summary>
    internal static string TempName(string fileName)
    {
        string suffix = "." + Path.GetRandomFileName().Replace(".", "", StringComparison.Ordinal) + ".tmp";
        int budget = MaxNameBytes - suffix.Length;
        if (Encoding.UTF8.GetByteCount(fileName) <= budget)
        {
            return fileName + suffix;
        }
        var kept = new StringBuilder();
        int bytes = 0;
        foreach (Rune rune in fileName.EnumerateRunes())
        {
            if (bytes + rune.Utf8SequenceLength > budget)
            {
                break;
            }
            bytes += rune.Utf8SequenceLength;
            kept.Append(rune.ToString());
        }
        return kept.Append(suffix).ToString();
    }

    /// <summary>Flushes the new content to disk and renames it over the target.</summary>
    /// <exception cref="IOException">The content cannot be written (a full disk, for example) or the rename fails; the target is unchanged.</exception>
    public void Commit()
    {
        FileStream stream = _stream ?? throw new ObjectDisposedException(nameof(AtomicFileWriter));
        stream.Flush(flushToDisk: true);
        stream.Dispose();
        _stream = null;
        try
        {
            File.Move(TempPath, _targetPath, overwrite: true);
        }
        catch (UnauthorizedAccessException e)
        {
            throw FileErrors.Access(_targetPath, "write", e);
        }
        _committed = true;
    }

    /// <summary>Deletes the temporary file unless <see cref="Commit"/> succeeded.</summary>
    public void Dispose()
    {
        FileStream? stream = _stream;
        _stream = null;
        if (_committed)
        {
            return;
        }
        try
        {
            // Closing flushes what the stream still buffers; after a failed write (a full disk) that fails again.
            // The content is being discarded, and the stream closes its handle even when that flush throws.
            stream?.Dispose();
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        try
        {
            File.Delete(TempPath);
        }
        catch (IOException)
        {
            // Best effort: the original failure matters more than a leftover temporary file.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
