using System.Runtime.InteropServices;

namespace AttnGen.Kernels.Tests;

/// <summary>
/// Floats placed against an inaccessible page, so a kernel that reads or writes one element past the end
/// (or, with <c>guardBefore</c>, before the start) crashes the test run instead of passing silently.
/// Linux and other POSIX systems: anonymous mmap plus mprotect(PROT_NONE) on the guard page.
/// </summary>
public sealed unsafe class GuardedMemory : IDisposable
{
    private const int ProtNone = 0, ProtRead = 1, ProtWrite = 2, MapPrivate = 0x02, MapAnonymous = 0x20;
    private readonly nint _mapping;
    private readonly nuint _mappingLength;

    public GuardedMemory(int length, bool guardBefore)
    {
        Length = length;
        int page = Environment.SystemPageSize;
        long bytes = Math.Max(1L, (long)length * sizeof(float));
        long dataPages = (bytes + page - 1) / page;
        _mappingLength = (nuint)((dataPages + 1) * page);
        _mapping = Mmap(0, _mappingLength, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        if (_mapping == -1)
        {
            throw new InvalidOperationException($"mmap failed: errno {Marshal.GetLastPInvokeError()}");
        }
        nint guard = guardBefore ? _mapping : _mapping + (nint)(dataPages * page);
        if (Mprotect(guard, (nuint)page, ProtNone) != 0)
        {
            throw new InvalidOperationException($"mprotect failed: errno {Marshal.GetLastPInvokeError()}");
        }
        Pointer = guardBefore ? (float*)(_mapping + page) : (float*)(guard - (nint)((long)length * sizeof(float)));
    }

    public float* Pointer { get; }

    public int Length { get; }

    public Span<float> Span => new(Pointer, Length);

    public static bool IsAvailable => OperatingSystem.IsLinux();

    public void Dispose() => _ = Munmap(_mapping, _mappingLength);

    [DllImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static extern nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [DllImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    private static extern int Mprotect(nint address, nuint length, int protection);

    [DllImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static extern int Munmap(nint address, nuint length);
}
