using System.Text;

namespace AttnGen.Generator.Emit
{
    /// <summary>
    /// Builds generated source with four-space indentation and '\n' line ends, so the output is the same
    /// bytes on every machine.
    /// </summary>
    internal sealed class SourceWriter
    {
        private readonly StringBuilder _builder = new();
        private int _indent;

        public SourceWriter Line(string text = "")
        {
            if (text.Length > 0)
            {
                _builder.Append(' ', _indent * 4);
                _builder.Append(text);
            }
            _builder.Append('\n');
            return this;
        }

        /// <summary>Writes several lines given as one string separated by '\n'.</summary>
        public SourceWriter Lines(string text)
        {
            foreach (string line in text.Split('\n'))
            {
                Line(line.TrimEnd('\r'));
            }
            return this;
        }

        /// <summary>Writes <c>{</c>, indents, and returns a scope that writes <c>}</c> when disposed.</summary>
        public Block Open(string header)
        {
            if (header.Length > 0)
            {
                Line(header); // an empty header opens a bare scope
            }
            Line("{");
            _indent++;
            return new Block(this, "}");
        }

        /// <summary>Like <see cref="Open"/> but the closing line is <paramref name="close"/> (e.g. <c>};</c>).</summary>
        public Block Open(string header, string close)
        {
            Line(header);
            Line("{");
            _indent++;
            return new Block(this, close);
        }

        public override string ToString() => _builder.ToString();

        internal readonly struct Block : System.IDisposable
        {
            private readonly SourceWriter _writer;
            private readonly string _close;

            public Block(SourceWriter writer, string close)
            {
                _writer = writer;
                _close = close;
            }

            public void Dispose()
            {
                _writer._indent--;
                _writer.Line(_close);
            }
        }
    }
}
