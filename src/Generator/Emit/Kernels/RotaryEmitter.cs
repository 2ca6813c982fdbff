using AttnGen.Generator.Model;

namespace AttnGen.Generator.Emit.Kernels
{
    /// <summary>
    /// Emits the rotary position embedding block of a sequence method (<c>Rotary = true</c>): the projected q and k
    /// turned in place through the kernel table's cos/sin table, row r of the sequence at position r, on the
    /// method's own path; in the backward, the gradients of the rotated q and k turned back by the same angles.
    /// A layer without <c>Rotary</c> gets nothing.
    /// </summary>
    internal static class RotaryEmitter
    {
        /// <summary>
        /// Rotates <paramref name="q"/> (Heads per row) and <paramref name="k"/> (KvHeads per row) forward, each worker of
        /// the sequence its share of the rows (<c>split</c>), then waits for the others.
        /// </summary>
        public static void EmitRotate(SourceWriter w, KernelPlan plan, IsaProfile isa, string q, string k)
            => Emit(w, plan, "// Rotary position embedding: q and k turned in place, row r by the angles r·θ_i (pairs i, i + HeadDim/2); rows shared out",
                $"Rotate({q}, SeqLen, QueryWidth, Heads, {Path(isa)}, split)", $"Rotate({k}, KvSeqLen, KvWidth, KvHeads, {Path(isa)}, split)", "split.Sync();");

        /// <summary>
        /// Turns the gradients <paramref name="dq"/> and <paramref name="dk"/> of the rotated q and k back by −r·θ_i, each
        /// worker of the sequence its share of the rows (<c>split</c>), then waits for the others.
        /// </summary>
        public static void EmitRotateBack(SourceWriter w, KernelPlan plan, IsaProfile isa, string dq, string dk)
            => Emit(w, plan, "// Rotary position embedding, backward: dQ and dK turned back in place by −r·θ_i (the rotation's transpose); rows shared out",
                $"RotateBack({dq}, SeqLen, QueryWidth, Heads, {Path(isa)}, split)", $"RotateBack({dk}, KvSeqLen, KvWidth, KvHeads, {Path(isa)}, split)", "split.Sync();");

        private static void Emit(SourceWriter w, KernelPlan plan, string comment, string q, string k, string? then)
        {
            if (!plan.Spec.Rotary)
            {
                return;
            }
            w.Line(comment);
            w.Line("global::AttnGen.RotaryTable rotary = Kernels.Rotary!;");
            w.Line($"rotary.{q};");
            w.Line($"rotary.{k};");
            if (then is not null)
            {
                w.Line(then);
            }
            w.Line();
        }

        private static string Path(IsaProfile isa) => "global::AttnGen.KernelIsa." + isa.EnumName;
    }
}
