// The layer's file list (Emit/LayerEmitter.cs), the layer file with its layout constants (Emit/Shell) and the kernels
// meet here: the kernel emitters' entry points are visible to the rest of the generator by their names alone.
global using AttnGen.Generator.Emit.Kernels.Decoding;
global using AttnGen.Generator.Emit.Kernels.Path;
