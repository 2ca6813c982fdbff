using AttnGen.Generator.Model;

namespace AttnGen.Generator.Emit.Kernels.Path
{
    /// <summary>Where each projection's panels sit in the packed-weight buffer of one path.</summary>
    internal readonly struct PackedOffsets
    {
        public PackedOffsets(int query, int key, int value, int output)
        {
            Query = query;
            Key = key;
            Value = value;
            Output = output;
        }

        public int Query { get; }

        public int Key { get; }

        public int Value { get; }

        public int Output { get; }

        public static PackedOffsets For(KernelPlan plan, IsaProfile isa)
        {
            int nr = isa.PanelWidth, m = plan.Spec.ModelDim;
            int q = AttnGen.Generator.Planning.KernelPlanner.PanelLength(plan.QueryWidth, m, nr);
            int kv = AttnGen.Generator.Planning.KernelPlanner.PanelLength(plan.KvWidth, m, nr);
            return new PackedOffsets(0, q, q + kv, q + 2 * kv);
        }
    }
}
