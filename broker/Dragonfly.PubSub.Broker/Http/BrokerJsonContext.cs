using System.Text.Json;
using System.Text.Json.Serialization;
using Dragonfly.PubSub.Broker.Preheat;

namespace Dragonfly.PubSub.Broker.Http;

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false)]
[JsonSerializable(typeof(List<TaskSummary>))]
[JsonSerializable(typeof(TaskDetail))]
[JsonSerializable(typeof(ApiError))]
[JsonSerializable(typeof(BrokerStatus))]
[JsonSerializable(typeof(HealthReport))]
[JsonSerializable(typeof(PreheatJob))]
[JsonSerializable(typeof(List<PreheatJob>))]
internal sealed partial class BrokerJsonContext : JsonSerializerContext;
