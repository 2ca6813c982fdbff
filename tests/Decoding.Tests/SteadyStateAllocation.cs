namespace AttnGen.Decoding.Tests;

/// <summary>
/// Test classes that count the bytes a multi-threaded call allocates run alone: the thread pool's global queue is
/// shared by the whole process, and while other tests flood it, queueing a worker can grow it (a new queue segment,
/// thousands of bytes) on the calling thread, which has nothing to do with the code under test.
/// </summary>
[CollectionDefinition(nameof(SteadyStateAllocation), DisableParallelization = true)]
public sealed class SteadyStateAllocation;
