namespace AttnGen;

/// <summary>
/// Turns the ways a path can fail to open into the documented <see cref="IOException"/>s, each naming the path and
/// the reason. The runtime reports an unreadable path or a directory as an <see cref="IOException"/>, never as a
/// bare <see cref="UnauthorizedAccessException"/>, so one <c>catch (IOException)</c> covers every file problem.
/// </summary>
internal static class FileErrors
{
    /// <summary>The error for <paramref name="path"/> failing with <paramref name="e"/> on <paramref name="verb"/> ("read", "write").</summary>
    public static IOException Access(string path, string verb, UnauthorizedAccessException e)
        => Directory.Exists(path)
            ? new IOException($"Cannot {verb} '{path}': it is a directory, not a file.", e)
            : new IOException($"Cannot {verb} '{path}': access is denied ({e.Message})", e);
}
