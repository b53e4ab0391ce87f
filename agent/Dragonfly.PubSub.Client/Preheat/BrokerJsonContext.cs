using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dragonfly.PubSub.Client.Preheat;

/// <summary>Source-generated JSON for the broker's preheat API.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(PreheatRequest))]
[JsonSerializable(typeof(PreheatJob))]
public sealed partial class BrokerJsonContext : JsonSerializerContext;
