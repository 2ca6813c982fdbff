namespace AttnGen.Kernels.Tests;

/// <summary>
/// The key packing the vector attention kernels read: block-transposed keys with zero padding, on every
/// instruction-set path this process runs (the 4 x 4 transpose has an SSE and an Arm64 form and a scalar tail).
/// </summary>
public sealed unsafe class PackingTests
{
    [Theory]
    [InlineData(1, 1, 32)]
    [InlineData(3, 5, 32)]
    [InlineData(4, 4, 32)]
    [InlineData(5, 7, 32)]
    [InlineData(64, 64, 64)]
    [InlineData(67, 64, 64)]
    [InlineData(33, 30, 32)]
    [InlineData(128, 17, 64)]
    [InlineData(21, 12, 8)]
    [InlineData(13, 9, 4)]
    public void PackKeyBlocks_TransposesEachBlockAndZeroPads(int rows, int headDim, int blockSize)
    {
        int rowStride = headDim + 5;
        int paddedRows = (rows + blockSize - 1) / blockSize * blockSize;
        var keys = new float[rows * rowStride];
        for (int i = 0; i < keys.Length; i++) keys[i] = i + 0.5f;
        const int guard = 16;
        var destination = new float[paddedRows * headDim + guard];
        Array.Fill(destination, float.NaN);

        fixed (float* k = keys, dst = destination)
        {
            KernelSupport.PackKeyBlocks(k, rowStride, rows, headDim, paddedRows, blockSize, dst);
        }

        for (int j = 0; j < paddedRows; j++)
        {
            for (int d = 0; d < headDim; d++)
            {
                int at = j / blockSize * headDim * blockSize + d * blockSize + j % blockSize;
                float expected = j < rows ? keys[j * rowStride + d] : 0f;
                Assert.True(destination[at] == expected, $"key {j}, dim {d}: {destination[at]} at {at}, expected {expected}");
            }
        }
        for (int i = paddedRows * headDim; i < destination.Length; i++)
        {
            Assert.True(float.IsNaN(destination[i]), $"wrote past the packed keys at {i}");
        }
    }
}
