using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dragonfly.PubSub.Broker.Cli;

/// <summary>
/// The body of <c>POST /admin/v1/tokens</c> as <see cref="SocketBrokerAdmin"/> sends it; the admin API
/// reads the same names (role, topics, ttlSeconds, uses, scopes) from a JsonDocument.
/// </summary>
internal sealed record TokenRequestBody(string Role, IReadOnlyList<string> Topics, double TtlSeconds, int Uses, string Scopes);

/// <summary>
/// Source-generated JSON for the admin request bodies: dfbroker publishes as Native AOT, where the
/// reflection-based serializer (DefaultJsonTypeInfoResolver) cannot be used.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false)]
[JsonSerializable(typeof(TokenRequestBody))]
internal sealed partial class AdminJsonContext : JsonSerializerContext;
