using System.Runtime.InteropServices;

namespace AttnGen.Benchmarks.Onnx;

/// <summary>An attribute of a node: an integer or a float.</summary>
internal readonly record struct OnnxAttribute(string Name, long? Int = null, float? Float = null);

/// <summary>
/// A single-graph ONNX model built in code and serialised as a ModelProto. Field numbers follow
/// onnx.proto: ModelProto {1 ir_version, 2 producer_name, 7 graph, 8 opset_import}, GraphProto {1 node,
/// 2 name, 5 initializer, 11 input, 12 output}, NodeProto {1 input, 2 output, 3 name, 4 op_type,
/// 5 attribute, 7 domain}, AttributeProto {1 name, 2 f, 3 i, 20 type}, TensorProto {1 dims,
/// 2 data_type, 8 name, 9 raw_data}, ValueInfoProto {1 name, 2 type}, TypeProto {1 tensor_type},
/// TypeProto.Tensor {1 elem_type, 2 shape}, TensorShapeProto {1 dim}, Dimension {1 dim_value},
/// OperatorSetIdProto {1 domain, 2 version}.
/// </summary>
internal sealed class OnnxModel
{
    /// <summary>TensorProto.DataType FLOAT and INT32.</summary>
    private const int FloatType = 1, Int32Type = 6;

    /// <summary>AttributeProto.AttributeType FLOAT and INT.</summary>
    private const int FloatAttribute = 1, IntAttribute = 2;

    /// <summary>The ONNX standard domain ("ai.onnx" is written as the empty string).</summary>
    public const string StandardDomain = "";

    /// <summary>ONNX Runtime's contrib operators.</summary>
    public const string MicrosoftDomain = "com.microsoft";

    private readonly List<Action<ProtoWriter>> _nodes = [];
    private readonly List<Action<ProtoWriter>> _initializers = [];
    private readonly List<Action<ProtoWriter>> _inputs = [];
    private readonly List<Action<ProtoWriter>> _outputs = [];
    private readonly Dictionary<string, long> _opsets = [];
    private int _nodeCount;

    /// <summary>IR version written to the model.</summary>
    public long IrVersion { get; init; } = 10;

    /// <summary>Declares that the graph uses operator set <paramref name="version"/> of <paramref name="domain"/>.</summary>
    public OnnxModel Opset(string domain, long version)
    {
        _opsets[domain] = version;
        return this;
    }

    /// <summary>A float graph input of fixed shape.</summary>
    public OnnxModel Input(string name, params long[] dims)
    {
        _inputs.Add(w => ValueInfo(w, name, dims));
        return this;
    }

    /// <summary>An int32 graph input of fixed shape (no dims: a scalar).</summary>
    public OnnxModel Int32Input(string name, params long[] dims)
    {
        _inputs.Add(w => ValueInfo(w, name, dims, Int32Type));
        return this;
    }

    /// <summary>A float graph output of fixed shape.</summary>
    public OnnxModel Output(string name, params long[] dims)
    {
        _outputs.Add(w => ValueInfo(w, name, dims));
        return this;
    }

    /// <summary>A float constant (weights) stored as raw little-endian data.</summary>
    public OnnxModel Initializer(string name, ReadOnlySpan<float> values, params long[] dims)
    {
        byte[] raw = MemoryMarshal.AsBytes(values).ToArray();
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("raw_data is little-endian.");
        }
        _initializers.Add(w =>
        {
            foreach (long d in dims)
            {
                w.Int(1, d);
            }
            w.Int(2, FloatType).String(8, name).Bytes(9, raw);
        });
        return this;
    }

    /// <summary>A node; an empty input name leaves an optional input out.</summary>
    public OnnxModel Node(string opType, string domain, string[] inputs, string[] outputs, params OnnxAttribute[] attributes)
    {
        string name = $"{opType}_{_nodeCount++}";
        _nodes.Add(w =>
        {
            foreach (string input in inputs)
            {
                w.String(1, input);
            }
            foreach (string output in outputs)
            {
                w.String(2, output);
            }
            w.String(3, name).String(4, opType);
            foreach (OnnxAttribute a in attributes)
            {
                w.Message(5, aw =>
                {
                    aw.String(1, a.Name);
                    if (a.Int is long i)
                    {
                        aw.Int(3, i).Int(20, IntAttribute);
                    }
                    else
                    {
                        aw.Float(2, a.Float ?? 0f).Int(20, FloatAttribute);
                    }
                });
            }
            if (domain.Length > 0)
            {
                w.String(7, domain);
            }
        });
        return this;
    }

    /// <summary>The serialised ModelProto.</summary>
    public byte[] ToBytes()
    {
        var model = new ProtoWriter().Int(1, IrVersion).String(2, "AttnGen.Benchmarks");
        model.Message(7, g =>
        {
            _nodes.ForEach(n => g.Message(1, n));
            g.String(2, "attention");
            _initializers.ForEach(t => g.Message(5, t));
            _inputs.ForEach(v => g.Message(11, v));
            _outputs.ForEach(v => g.Message(12, v));
        });
        foreach ((string domain, long version) in _opsets)
        {
            model.Message(8, o => o.String(1, domain).Int(2, version));
        }
        return model.ToArray();
    }

    private static void ValueInfo(ProtoWriter w, string name, long[] dims, int elementType = FloatType)
    {
        w.String(1, name).Message(2, type => type.Message(1, tensor =>
        {
            tensor.Int(1, elementType).Message(2, shape =>
            {
                foreach (long d in dims)
                {
                    shape.Message(1, dim => dim.Int(1, d));
                }
            });
        }));
    }
}
