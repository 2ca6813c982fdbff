namespace AttnGen;

/// <summary>
/// Replaces a file all at once: the content goes to <c>&lt;target&gt;.&lt;random&gt;.tmp</c> in the same folder,
/// which <see cref="Commit"/> flushes to disk and renames over the target. A reader sees the old file or the
/// new one, never a part of either, even if the process dies midway. Disposing without committing deletes
/// the temporary file; a process killed before that leaves it behind.
/// </summary>
public sealed class AtomicFileWriter : IDisposable
{
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
    public static AtomicFileWriter Create(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string target = Path.GetFullPath(path);
        string temp = target + "." + Path.GetRandomFileName().Replace(".", "", StringComparison.Ordinal) + ".tmp";
        var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16);
        return new AtomicFileWriter(target, temp, stream);
    }

    /// <summary>Flushes the new content to disk and renames it over the target.</summary>
    public void Commit()
    {
        FileStream stream = _stream ?? throw new ObjectDisposedException(nameof(AtomicFileWriter));
        stream.Flush(flushToDisk: true);
        stream.Dispose();
        _stream = null;
        File.Move(TempPath, _targetPath, overwrite: true);
        _committed = true;
    }

    /// <summary>Deletes the temporary file unless <see cref="Commit"/> succeeded.</summary>
    public void Dispose()
    {
        _stream?.Dispose();
        _stream = null;
        if (!_committed)
        {
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
}
