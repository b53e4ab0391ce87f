using System.Text.Json;
using System.Text.Json.Serialization;
using Dragonfly.PubSub.Broker.Http;

namespace Dragonfly.PubSub.Broker.Security;

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false)]
[JsonSerializable(typeof(EnrollmentResponse))]
[JsonSerializable(typeof(TokenCreated))]
[JsonSerializable(typeof(RevokeResult))]
[JsonSerializable(typeof(ApiError))]
[JsonSerializable(typeof(List<string>))]
internal sealed partial class SecurityJsonContext : JsonSerializerContext;
