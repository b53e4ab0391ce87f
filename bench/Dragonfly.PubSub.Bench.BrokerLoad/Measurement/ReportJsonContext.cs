using System.Text.Json.Serialization;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Measurement;

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(BrokerLoadReport))]
internal sealed partial class ReportJsonContext : JsonSerializerContext;
