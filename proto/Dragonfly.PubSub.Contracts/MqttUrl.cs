using System.Globalization;

namespace Dragonfly.PubSub.Contracts;

/// <summary>
/// The address of an MQTT 5 broker: <c>mqtt://[USER[:PASSWORD]@]HOST[:PORT]</c> (plain, port 1883 by default)
/// or <c>mqtts://…</c> (TLS, port 8883). What <c>dfbroker --mqtt-url</c> takes, and, without the credentials,
/// what the scheduler's Welcome tells agents. <see cref="ToString"/> never shows the password.
/// </summary>
public sealed class MqttUrl
{
    public const int DefaultPort = 1883;
    public const int DefaultTlsPort = 8883;

    private MqttUrl(string host, int port, bool tls, string? userName, string? password)
    {
        Host = host;
        Port = port;
        Tls = tls;
        UserName = userName;
        Password = password;
    }

    public string Host { get; }
    public int Port { get; }

    /// <summary>mqtts://: MQTT over TLS.</summary>
    public bool Tls { get; }
    public string? UserName { get; }
    public string? Password { get; }

    /// <summary>The URL without user and password: what agents are told and logs show.</summary>
    public Uri WithoutCredentials => new($"{(Tls ? "mqtts" : "mqtt")}://{(Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host)}:{Port.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>mqtt[s]://HOST:PORT, for messages.</summary>
    public string Shown => WithoutCredentials.GetLeftPart(UriPartial.Authority);

    public override string ToString() => Shown;

    /// <summary>Parses an MQTT URL; null and a one-line <paramref name="error"/> when it is not one.</summary>
    public static MqttUrl? TryParse(string? text, out string? error)
    {
        error = null;
        var trimmed = text?.Trim() ?? "";
        if (!Uri.TryCreate(trimmed, UriKind.Absolute, out var uri) || uri.Scheme is not ("mqtt" or "mqtts") || uri.Host.Length == 0)
        {
            error = $"'{Redacted(trimmed)}' is not an MQTT URL; use mqtt://HOST:PORT or mqtts://HOST:PORT";
            return null;
        }
        if (uri.AbsolutePath is not ("" or "/") || uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            error = $"'{Redacted(trimmed)}' has a path or query; an MQTT URL is only mqtt[s]://HOST:PORT";
            return null;
        }
        var tls = uri.Scheme == "mqtts";
        var port = uri.IsDefaultPort || uri.Port < 0 ? (tls ? DefaultTlsPort : DefaultPort) : uri.Port;
        string? user = null, password = null;
        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            user = Uri.UnescapeDataString(parts[0]);
            password = parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : null;
        }
        return new MqttUrl(uri.IdnHost.Trim('[', ']'), port, tls, user, password);
    }

    /// <summary>The text with any user info cut out, so that an error message never shows a password.</summary>
    private static string Redacted(string text)
    {
        var scheme = text.IndexOf("://", StringComparison.Ordinal);
        var at = text.LastIndexOf('@');
        return scheme >= 0 && at > scheme ? text[..(scheme + 3)] + "***@" + text[(at + 1)..] : text;
    }
}
