using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dragonfly.PubSub.Broker.Dashboard;

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false)]
[JsonSerializable(typeof(DashboardView))]
[JsonSerializable(typeof(FleetView))]
[JsonSerializable(typeof(List<TopicView>))]
[JsonSerializable(typeof(List<TaskView>))]
[JsonSerializable(typeof(SwarmView))]
[JsonSerializable(typeof(TrafficView))]
[JsonSerializable(typeof(FailuresView))]
[JsonSerializable(typeof(FleetShare))]
internal sealed partial class DashboardJsonContext : JsonSerializerContext;
