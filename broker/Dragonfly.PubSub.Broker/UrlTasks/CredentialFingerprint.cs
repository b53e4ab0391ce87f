using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Origins;

namespace Dragonfly.PubSub.Broker.UrlTasks;

/// <summary>
/// What a URL task request proves access with (issue 11, attack 4): the URL's user info, the values of
/// the query parameters left out of the task id (signatures of presigned URLs, <c>--filter-param</c>), and
/// every header (Authorization, Cookie, ...), hashed. It is part of the registration key, so a request
/// with other credentials than those the live task was found with is checked against the origin with
/// its own credentials first (a stat) and joins the task only if the origin accepts them: a bad
/// signature gets the origin's refusal, never the pieces. Task ids do not change: callers whose
/// credentials the origin accepts still share one task and one origin fetch. Empty for a request without any.
/// </summary>
public static class CredentialFingerprint
{
    private const string Domain = "dragonfly.pubsub/url-credentials/v1";

    public static string Of(Uri url, IReadOnlyList<Header> headers, IEnumerable<string> filterParams)
    {
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(headers);
        var filtered = new HashSet<string>(UrlTaskId.DefaultFilteredParameters, StringComparer.OrdinalIgnoreCase);
        filtered.UnionWith(filterParams);
        var fields = new List<string>();
        if (url.UserInfo.Length > 0)
        {
            fields.Add("userinfo=" + url.UserInfo);
        }
        if (url.Query.Length > 1)
        {
            foreach (var part in url.Query[1..].Split('&'))
            {
                var equals = part.IndexOf('=', StringComparison.Ordinal);
                var name = Uri.UnescapeDataString(equals < 0 ? part : part[..equals]);
                if (part.Length > 0 && filtered.Contains(name))
                {
                    fields.Add("query:" + part);
                }
            }
        }
        foreach (var header in headers)
        {
            fields.Add("header:" + header.Name.ToLowerInvariant() + ":" + header.Value);
        }
        if (fields.Count == 0)
        {
            return "";
        }
        fields.Sort(StringComparer.Ordinal);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Append(hash, Domain);
        foreach (var field in fields)
        {
            Append(hash, field);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    // Length-prefixed: no choice of values makes two different sets of fields hash alike.
    private static void Append(IncrementalHash hash, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        Span<byte> length = stackalloc byte[sizeof(int)];
        BinaryPrimitives.WriteInt32BigEndian(length, bytes.Length);
        hash.AppendData(length);
        hash.AppendData(bytes);
    }
}
