using System.Globalization;
using System.Net.Sockets;

namespace Dragonfly.PubSub.Bench.Swarm.Processes;

/// <summary>
/// Plain GETs on an agent's unix socket (<c>&lt;data-dir&gt;/dfagent.sock</c>): a path in the file
/// system, so the benchmark reaches agents in other network namespaces without any network.
/// </summary>
internal static class AgentSocket
{
    public static async Task<string> GetStringAsync(string socketPath, string path, CancellationToken cancel)
    {
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
        return await http.GetStringAsync($"http://dfagent{path}", cancel);
    }

    /// <summary>One metric from Prometheus text, summed over its label sets; 0 before its first sample.</summary>
    public static double SumMetric(string prometheusText, string metric)
    {
        double sum = 0;
        foreach (var line in prometheusText.Split('\n'))
        {
            if (!line.StartsWith(metric, StringComparison.Ordinal) || line.Length == metric.Length
                || (line[metric.Length] != ' ' && line[metric.Length] != '{'))
            {
                continue;
            }
            var afterLabels = line[metric.Length] == '{' ? line.IndexOf('}', metric.Length) + 1 : metric.Length;
            sum += double.Parse(line[afterLabels..].Trim().Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture);
        }
        return sum;
    }
}
