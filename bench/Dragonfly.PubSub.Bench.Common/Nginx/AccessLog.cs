using System.Globalization;

namespace Dragonfly.PubSub.Bench.Common.Nginx;

/// <summary>
/// Reads an access log written in <see cref="NginxConfig.AccessLogFormat"/>: what the origin served,
/// counted from the body bytes nginx says it sent (headers excluded), from a byte offset on so that
/// probes before the measurement do not count.
/// </summary>
public static class AccessLog
{
    /// <summary>The log's current length: pass it to <see cref="ReadSince"/> to count only what comes after.</summary>
    public static long Mark(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;

    /// <summary>The requests logged after <paramref name="offset"/> (whole lines only).</summary>
    public static AccessLogTotals ReadSince(string path, long offset)
    {
        if (!File.Exists(path))
        {
            return Parse([]);
        }
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Seek(Math.Min(offset, stream.Length), SeekOrigin.Begin);
        using var reader = new StreamReader(stream);
        var text = reader.ReadToEnd();
        // A line nginx is still writing has no newline yet: leave it out rather than misread it.
        var complete = text.LastIndexOf('\n') is var end and >= 0 ? text[..end] : "";
        return Parse(complete.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    /// <exception cref="FormatException">A line is not in <see cref="NginxConfig.AccessLogFormat"/>.</exception>
    public static AccessLogTotals Parse(IEnumerable<string> lines)
    {
        var requests = new List<AccessLogEntry>();
        foreach (var line in lines)
        {
            // addr method status bytes "range": the range is last and may be "-".
            var fields = line.Split(' ', 5);
            if (fields.Length < 5 || !int.TryParse(fields[2], CultureInfo.InvariantCulture, out var status)
                || !long.TryParse(fields[3], CultureInfo.InvariantCulture, out var bytes))
            {
                throw new FormatException($"not an access log line in the dfbench format: {line}");
            }
            var range = fields[4].Trim().Trim('"');
            requests.Add(new AccessLogEntry(fields[0], fields[1], status, bytes, range is "-" or "" ? null : range));
        }
        return new AccessLogTotals(requests);
    }
}
