using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dragonfly.PubSub.Client;

/// <summary>Source-generated JSON for the agent API: the agent and the SDK share these shapes.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TaskInfo))]
[JsonSerializable(typeof(List<TaskInfo>))]
[JsonSerializable(typeof(PublishRequest))]
[JsonSerializable(typeof(PublishResult))]
[JsonSerializable(typeof(DownloadRequest))]
[JsonSerializable(typeof(AgentStatus))]
[JsonSerializable(typeof(ApiError))]
[JsonSerializable(typeof(CacheReport))]
public sealed partial class ClientJsonContext : JsonSerializerContext;
