using System.Globalization;
using System.Net.Http.Json;
using Dragonfly.PubSub.Client;

namespace QuickStart;

/// <summary>The two HTTP calls the example makes on the broker's and the agents' local ports.</summary>
internal static class LocalApi
{
    /// <summary><c>GET /api/v1/tasks</c> on an agent.</summary>
    public static async Task<IReadOnlyList<TaskInfo>> GetTasksAsync(HttpClient http, int port, CancellationToken cancel) =>
        await http.GetFromJsonAsync<List<TaskInfo>>($"http://127.0.0.1:{port}/api/v1/tasks", cancel) ?? [];

    /// <summary>
    /// Reads one metric from <c>GET /metrics</c> (Prometheus text), summed over its label sets;
    /// 0 when the metric has no sample yet.
    /// </summary>
    public static async Task<double> GetMetricAsync(HttpClient http, Uri server, string metric, CancellationToken cancel)
    {
        var text = await http.GetStringAsync(new Uri(server, "metrics"), cancel);
        double sum = 0;
        foreach (var line in text.Split('\n'))
        {
            // A sample line is `name value` or `name{labels} value`.
            if (!line.StartsWith(metric, StringComparison.Ordinal) || line.Length == metric.Length
                || (line[metric.Length] != ' ' && line[metric.Length] != '{'))
            {
                continue;
            }
            var afterLabels = line[metric.Length] == '{' ? line.IndexOf('}', metric.Length) + 1 : metric.Length;
            var value = line[afterLabels..].Trim().Split(' ')[0];
            sum += double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture);
        }
        return sum;
    }
}
