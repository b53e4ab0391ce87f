using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dragonfly.PubSub.Broker.Http;

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false)]
[JsonSerializable(typeof(List<TaskSummary>))]
[JsonSerializable(typeof(TaskDetail))]
[JsonSerializable(typeof(ApiError))]
[JsonSerializable(typeof(BrokerStatus))]
internal sealed partial class BrokerJsonContext : JsonSerializerContext;
